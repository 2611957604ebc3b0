"""Hardening II (issue 16): floods of wake-ups, another script's storage traffic, crowded storage.

Another page of the same site may post wake-ups as fast as it can, or rewrite its own keys in a
loop, or keep tens of thousands of keys in localStorage. Wake-ups are merged before they reach
Python (core/wakeups.py, rule 6) and localStorage is read by name (browser/tabindex.py), so none of
these costs a tab in proportion to the traffic. What each case checks is counted, not timed:
`<html data-wake-signals>` (messages and storage events heard) against `data-wake-batches` (the
looks they caused), and the calls the app makes to `localStorage.key()`. The CPU and times under
the same floods are measured by bench/hostile.py (docs/bench/hostile/results.md).

MicroPython on Chromium: what is tested here is JavaScript and the browser's events; the merging
runs the same on both interpreters.
"""

import json

import pytest

from hardening import data, micropython_only, open_helper, sign_in

pytestmark = pytest.mark.pyodide_engines("chromium")

OTHER = "0123456789abcdef0123456789abcdef"

# Posts valid wake-ups for `seconds`, about `rate` a second, in bursts of ten; resolves to how many.
_FLOOD = """([seconds, rate, text]) => new Promise((resolve) => {
  const channel = new BroadcastChannel("tabsession");
  let sent = 0;
  const end = performance.now() + seconds * 1000;
  const timer = setInterval(() => {
    for (let index = 0; index < rate / 100; index++) { channel.postMessage(text); sent++; }
    if (performance.now() >= end) { clearInterval(timer); channel.close(); resolve(sent); }
  }, 10);
})"""

# Rewrites one key the library does not own `count` times, as an analytics script might.
_REWRITE_OTHER = """(count) => {
  for (let index = 0; index < count; index++) localStorage.setItem("analytics:last", String(index));
  return count;
}"""

# Counts, in every document of the context, the calls to localStorage.key() (a walk of all keys).
_COUNT_KEY_CALLS = """(() => {
  const original = Storage.prototype.key;
  window.__keyCalls = 0;
  Storage.prototype.key = function (index) { window.__keyCalls++; return original.call(this, index); };
})();"""

_PLANT_OTHERS = """(count) => {
  for (let index = 0; index < count; index++) localStorage.setItem("other:" + index, "value " + index);
  return localStorage.length;
}"""


def counters(page):
    values = data(page)
    return int(values.get("wakeSignals") or 0), int(values.get("wakeBatches") or 0)


@pytest.mark.parametrize("runtime", micropython_only())
def test_a_flood_of_wake_ups_is_merged_and_a_sign_out_still_reaches_every_tab(
        serve, runtime, context, wait_state):
    """Three tabs of one session, and a page posting a thousand valid wake-ups a second: each tab
    hears the flood in a few batches (a look each), stays active, and a sign-out made meanwhile
    reaches every tab."""
    server = serve(runtime, max_tabs=3)
    first = context.new_page()
    first.goto(server("/login"))
    wait_state(first, "signed-out")
    sign_in(first, wait_state)
    others = []
    for _ in range(2):
        page = context.new_page()
        page.goto(server("/"))
        wait_state(page, "active")
        others.append(page)
    tabs = [first] + others
    before = [counters(page) for page in tabs]
    wake = json.dumps({"v": 1, "type": "changed", "from": OTHER})

    sent = open_helper(context, server).evaluate(_FLOOD, [3, 1000, wake])

    after = [counters(page) for page in tabs]
    for page, (signals_before, batches_before), (signals, batches) in zip(tabs, before, after):
        heard = signals - signals_before
        looks = batches - batches_before
        assert heard >= sent * 0.9, (heard, sent)
        # At most one batch per 50 ms (the flood lasts 3 s, about 60), never one per message.
        assert looks <= heard / 10, (looks, heard)
        assert "active" == data(page)["tabState"]

    # A second flood, left running (not awaited) while a tab signs out.
    open_helper(context, server).evaluate(f"() => {{ ({_FLOOD})([6, 1000, {json.dumps(wake)}]); }}")
    first.click("#logout")
    for page in tabs:
        wait_state(page, "signed-out")


@pytest.mark.parametrize("runtime", micropython_only())
def test_another_scripts_storage_writes_never_wake_a_tab(serve, runtime, context, wait_state):
    """Another page rewriting a key of its own thousands of times: the tab hears none of it."""
    server = serve(runtime)
    page = context.new_page()
    page.goto(server("/login"))
    wait_state(page, "signed-out")
    sign_in(page, wait_state)
    helper = open_helper(context, server)
    signals_before, _ = counters(page)

    helper.evaluate(_REWRITE_OTHER, 3000)
    helper.evaluate("() => localStorage.setItem('tabsession:activity', 'junk')")  # one of ours

    page.wait_for_function("(n) => Number(document.documentElement.dataset.wakeSignals) > n",
                           arg=signals_before, timeout=10000)
    signals, _ = counters(page)
    assert 1 == signals - signals_before
    assert "active" == data(page)["tabState"]


@pytest.mark.parametrize("runtime", micropython_only())
def test_crowded_storage_is_never_walked(serve, runtime, context, wait_state):
    """With 50,000 keys of other code on the origin, tabs sign in, refuse, take over and sign out
    as usual, and never call localStorage.key(): every key they read is read by name."""
    context.add_init_script(_COUNT_KEY_CALLS)
    server = serve(runtime)
    helper = open_helper(context, server)
    assert helper.evaluate(_PLANT_OTHERS, 50000) >= 50000
    first = context.new_page()
    first.goto(server("/login"))
    wait_state(first, "signed-out")
    sign_in(first, wait_state)
    second = context.new_page()
    second.goto(server("/"))
    wait_state(second, "blocked")
    second.click("#use-here")
    wait_state(second, "active")
    wait_state(first, "moved")
    second.click("#logout")
    wait_state(first, "signed-out")

    assert [0, 0] == [page.evaluate("() => window.__keyCalls") for page in (first, second)]
