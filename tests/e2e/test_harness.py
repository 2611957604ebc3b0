"""The end-to-end harness itself: it finds a browser, starts servers, and catches what it must.

Most tests here need no app: they load pages that Playwright fulfils itself (`page.route` answers
before the harness's own context route sees the request, so nothing reaches the network). The
last ones need serve.py and login.html from the app.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

import stall_guard

HARNESS_URL = "http://harness.test/"  # never fetched: page.route answers it


def serve_html(page, html, headers=None):
    """Make `page` show `html` at HARNESS_URL, without any server."""
    page.route(
        HARNESS_URL,
        lambda route: route.fulfill(body=html, content_type="text/html", headers=headers or {}),
    )
    page.goto(HARNESS_URL)


def test_option_flags_follow_serve_py_spelling(serve):
    """Keyword options become serve.py's dashed flags, in a stable order."""
    expected = ["--idle-timeout", "30", "--max-tabs", "2", "--policy", "takeover"]

    actual = serve.flags({"policy": "takeover", "max_tabs": 2, "idle_timeout": 30})

    assert expected == actual


def test_request_to_another_host_is_aborted_and_recorded(page, watch):
    """A fetch to another host never leaves the browser and is recorded as a problem."""
    serve_html(page, "<!doctype html><title>harness</title>")

    outcome = page.evaluate(
        "() => fetch('http://example.invalid/').then(() => 'answered', (e) => 'failed: ' + e.name)"
    )

    assert "failed: TypeError" == outcome
    assert ["http://example.invalid/"] == watch.off_host
    assert any("example.invalid" in line for line in watch.problems())
    watch.forget()


def test_page_errors_and_console_errors_are_recorded(page, watch):
    """An uncaught exception and a console.error are both recorded."""
    serve_html(page, "<!doctype html><title>harness</title>")

    page.evaluate("() => { console.error('deliberate'); setTimeout(() => { throw new Error('boom'); }); }")
    page.wait_for_timeout(200)

    assert any("deliberate" in line for line in watch.console_errors)
    assert any("boom" in line for line in watch.page_errors)
    watch.forget()


def test_py_error_and_csp_violation_on_an_open_page_are_found(page, watch):
    """A `.py-error` element and a CSP violation on a still-open page count as problems."""
    html = "<!doctype html><div class=py-error>Traceback: boom</div><script>1</script>"

    serve_html(page, html, {"Content-Security-Policy": "script-src 'none'"})
    page.wait_for_timeout(100)
    problems = watch.problems()

    assert any(line.startswith("py-error on") and "Traceback: boom" in line for line in problems)
    assert any(line.startswith("CSP violation on") for line in problems)
    watch.forget()
    assert [] == watch.problems()


def test_a_crashed_tab_is_skipped_not_inspected(page, watch, crash_tab):
    """After crash_tab, the crashed page neither hangs the checks nor counts as a problem."""
    serve_html(page, "<!doctype html><div class=py-error>gone with the tab</div>")
    other = page.context.new_page()

    crash_tab(page)

    assert [] == watch.problems()
    assert 2 == other.evaluate("1 + 1")


def test_every_context_from_new_context_is_watched(new_context, watch_of):
    """A second context (another browser profile) gets its own watch."""
    first, second = new_context(), new_context()

    assert watch_of(first) is not watch_of(second)


# --- these need the app (serve.py and login.html) ---------------------------------------------


def test_serve_starts_each_configuration_once(serve):
    """The same options give the same running server; other options another one."""
    default = serve("micropython")

    assert default is serve("micropython")
    assert default is not serve("micropython", max_tabs=2)
    assert default.url.startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_login_page_boots_on_each_runtime(open_tab, runtime, app_server, watch_of):
    """/login leaves `booting` under both interpreters and says which one ran it."""
    page = open_tab("/login")

    assert runtime == page.evaluate("() => document.documentElement.dataset.runtime")
    assert "booting" != page.evaluate("() => document.documentElement.dataset.tabState")
    assert [] == watch_of(page.context).off_host
    assert page.url.startswith(app_server.url)


# --- the stall guard (stall_guard.py): which processes a hung teardown ends ---------------------

PROCESSES = {
    10: (1, "/usr/bin/python -m pytest"),
    11: (10, "node cli.js run-driver"),
    12: (11, "/usr/lib/chromium/chromium --headless --remote-debugging-pipe"),
    13: (12, "/usr/lib/chromium/chromium --type=zygote"),
    14: (13, "/usr/lib/chromium/chromium --type=renderer --renderer-client-id=5"),
    15: (12, "/usr/lib/chromium/chromium --type=gpu-process"),
    16: (11, "/usr/lib/firefox-esr/firefox-esr -contentproc -childID 3 tab"),
    17: (1, "/usr/lib/chromium/chromium --type=renderer"),  # another program's browser
    18: (10, "/usr/bin/python serve.py --port 0"),  # a server the tests started
    19: (18, "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/WebKitWebProcess 12 30"),
}


def test_the_stall_guard_ends_only_the_page_processes_of_this_run():
    """Renderers, content and web processes below this pytest; never the browser itself, its
    GPU process, a server of the tests or another program's browser."""
    assert [14, 16, 19] == stall_guard.page_processes(10, PROCESSES)


def test_the_stall_guard_survives_a_cycle_and_a_missing_root():
    looped = {1: (2, "x --type=renderer"), 2: (1, "y")}

    assert ([1], []) == (stall_guard.page_processes(2, looped), stall_guard.page_processes(99, PROCESSES))


def test_the_stall_guard_reads_this_machines_processes():
    """/proc's own table: this process and its parent, with a command line."""
    table = stall_guard.process_table()

    assert os.getppid() == table[os.getpid()][0]
    assert "python" in table[os.getpid()][1] or "pytest" in table[os.getpid()][1]


def test_the_stall_guard_kills_when_the_limit_passes_and_not_once_cancelled():
    """A process of this run marked as a page's, as a hung teardown would leave it."""
    hung = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--type=renderer"])
    spared = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--type=renderer"])

    def only(process):
        return lambda: [pid for pid in stall_guard.this_runs_page_processes() if pid == process.pid]

    try:
        stall_guard.guard("the cancelled one", 0.2, only(spared)).cancel()
        stall_guard.guard("a hung teardown", 0.2, only(hung))
        code = hung.wait(timeout=20)
        time.sleep(0.5)

        assert (-signal.SIGKILL, None) == (code, spared.poll())
        assert ("a hung teardown", [hung.pid]) in stall_guard.fired
        assert "the cancelled one" not in [label for label, _ in stall_guard.fired]
    finally:
        for process in (hung, spared):
            process.kill()
            process.wait()
        stall_guard.fired[:] = [entry for entry in stall_guard.fired if entry[0] != "a hung teardown"]
