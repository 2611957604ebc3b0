"""The reach phase's sign-in form and document counts: the trace script's "form" and "document"
entries (in Chromium, on a page routed by Playwright), the helpers that read them, and the
report's columns and table (no browser)."""

import os
import shutil
import subprocess

import pytest

from bench import page_scripts, phases, report
from bench.common import CHROMIUM, CHROMIUM_ARGS

PAGE = """<!doctype html><html data-tab-state="booting"><body>
<form id="login-form" hidden><button type="submit" disabled>Sign in</button></form>
</body></html>"""


def test_the_trace_script_is_javascript_with_the_form_check_in_it():
    script = page_scripts.trace_script(tabs=True)
    assert page_scripts.FORM_USABLE in script and '"document"' in script and 'kind: "form"' in script
    if shutil.which("node"):
        subprocess.run(["node", "--check", "-"], input=script, text=True, check=True)


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="no Chromium")
def test_the_trace_records_when_the_form_is_usable_and_each_document():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_init_script(script=page_scripts.trace_script())
            context.route("http://bench.test/**", lambda route: route.fulfill(
                status=200, content_type="text/html", body=PAGE))
            page = context.new_page()
            page.goto("http://bench.test/")
            page.evaluate("""() => {  // shown but disabled, then usable, then hidden again
                document.getElementById("login-form").hidden = false;
                document.documentElement.setAttribute("data-tab-state", "signed-out");
            }""")
            page.wait_for_timeout(50)
            page.evaluate("() => { document.querySelector('button').disabled = false; }")
            page.wait_for_timeout(50)
            page.evaluate("() => { document.getElementById('login-form').style.visibility = 'hidden'; }")
            page.wait_for_timeout(50)
            page.goto("http://bench.test/login")  # a second document of the same tab
            trace = page.evaluate(page_scripts.READ_TRACE)
        finally:
            browser.close()
    forms = [e["usable"] for e in trace if e["kind"] == "form"]
    documents = [(e["nav"], e["path"]) for e in trace if e["kind"] == "document"]
    assert forms == [True, False]
    assert documents == [("navigate", "/"), ("navigate", "/login")]
    usable = next(e for e in trace if phases.form_usable(e))
    state = next(e for e in trace if e["kind"] == "state" and e["state"] == "signed-out")
    assert usable["at"] > state["at"]
    assert phases.documents_since(trace, usable["at"]) == 1  # the second document only


def summary(*values):
    return {"n": len(values), "median": sorted(values)[len(values) // 2], "min": min(values),
            "max": max(values), "p5": min(values), "p95": max(values)}


def reach_result(form=True):
    r = {"per_tab": summary(30, 40), "all_tabs": summary(40), "wake": summary(5), "actor_done": summary(20),
         "handling": summary(25, 35), "samples": {}, "tabs": 2}
    if form:
        r.update(form_per_tab=summary(31, 42), form_all_tabs=summary(42), form_actor=summary(21),
                 documents_per_tab=summary(0, 0), documents_actor=summary(0), form_after_state=summary(1, 2))
    return r


def journey(documents):
    run = {"documents": documents, "loads": ["navigate /"] * documents, "first_form": 300,
           "sign_in_active": 50, "sign_out_form": 30, "sign_in_again_active": 45}
    steps = {name: summary(run[name]) for name in ("first_form", "sign_in_active", "sign_out_form",
                                                    "sign_in_again_active")}
    by_authority = {"documents": summary(documents), **steps, "runs": [run]}
    return {"reps": 1, "documents": summary(documents),
            "authorities": {"browser": by_authority, "server": by_authority}}


def results(reach):
    return {"quick": True, "counts": {}, "reach": reach, "seconds": 1, "load": {"start": [0, 0, 0], "end": [0, 0, 0]},
            "machine": {"nproc": 2, "cpu": "x", "memory_gib": 1, "chromium": "1", "playwright": "1",
                        "python": "3", "os": "linux"}}


def test_the_reach_table_has_the_form_and_document_columns_and_old_results_still_render():
    text = report.markdown(results({"signout-mpy": reach_result(), "takeover-mpy": reach_result(form=False),
                                    "journey-mpy": journey(1)}))
    header = next(line for line in text.splitlines() if line.startswith("| action |"))
    assert header.endswith("| form usable, last of the tabs, median | form usable, last, p95 |"
                           " documents per tab, median (max) |")
    signout = next(line for line in text.splitlines() if line.startswith("| sign-out | mpy |"))
    assert signout.endswith("| 1 | 42 ms | 42 ms | 0 (0) |")
    takeover = next(line for line in text.splitlines() if line.startswith("| take-over | mpy |"))
    assert takeover.endswith("| - | - | - |")
    assert "| mpy | browser | 1 (max 1) | 300 ms (300–300) |" in text
    old = report.markdown(results({"signout-mpy": reach_result(form=False)}))  # a results.json from before
    assert "Documents per tab" not in old and "| sign-out | mpy |" in old


def test_the_journey_target_wants_one_document():
    rows = lambda documents: [row for row in report.targets(results({"journey-mpy": journey(documents)}))
                              if row[0].startswith("One document per tab")]
    assert [row[2] for row in rows(1) + rows(2)] == [True, False]
