"""Hardening (issue 5): forged channel messages and forged tab and session records, dropped or
survived: they never sign anyone in or take a place.

Shared set-up and helpers: hardening.py.
"""

import json
import re
import time

import pytest

from hardening import (
    FORGED_TOKEN,
    OTHER_ID,
    SESSION_KEY,
    data,
    listed_ids,
    open_helper,
    path_of,
    plant,
    records,
    selected_runtimes,
    sign_in,
)

# Every case runs on every engine with MicroPython; the Pyodide twins on Chromium only.
pytestmark = pytest.mark.pyodide_engines("chromium")


_POST = """([texts, others]) => {
  const channel = new BroadcastChannel("tabsession");
  const lone = String.fromCharCode(0xD800);
  for (const text of texts) channel.postMessage(text.split("<LONE>").join(lone));
  const made = {
    object: () => ({v: 1, type: "changed", from: "0123456789abcdef0123456789abcdef"}),
    number: () => 42, null: () => null, undefined: () => undefined, list: () => [1, 2],
    boolean: () => true, buffer: () => new ArrayBuffer(8), date: () => new Date(0),
    huge: () => "x".repeat(1 << 20), blob: () => new Blob(["{}"]),
  };
  for (const name of others) channel.postMessage(made[name]());
  channel.close();
}"""


def wake(sender):
    return json.dumps({"v": 1, "type": "changed", "from": sender})


JUNK_TEXTS = [
    "", "junk", "{", "null", "[]", "42", '"changed"',
    '{"v": 1, "type": "changed"}',
    json.dumps({"v": 2, "type": "changed", "from": OTHER_ID}),
    json.dumps({"v": "1", "type": "changed", "from": OTHER_ID}),
    json.dumps({"v": True, "type": "changed", "from": OTHER_ID}),
    json.dumps({"v": 1, "type": "moved", "from": OTHER_ID}),
    json.dumps({"v": 1, "type": "signed-out", "from": OTHER_ID}),
    json.dumps({"v": 1, "type": "changed", "from": "not-an-id"}),
    json.dumps({"v": 1, "type": "changed", "from": OTHER_ID.upper()}),
    json.dumps({"v": 1, "type": "changed", "from": OTHER_ID, "state": "active"}),
    json.dumps({"__proto__": {"v": 1}, "type": "changed", "from": OTHER_ID}),
    '{"v": 1, "type": "changed", "from": "' + OTHER_ID[:31] + '<LONE>"}',
    "[" * 128 + "]" * 128,
    "x" * 300,
]
JUNK_OTHERS = ["object", "number", "null", "undefined", "list", "boolean", "buffer", "date", "huge", "blob"]
VALID_WAKES = [wake(OTHER_ID), wake("f" * 32)]


def forge_messages(helper, own_id):
    """Post every junk message, valid wake-ups from other ids and one in the tab's own name."""
    helper.evaluate(_POST, [JUNK_TEXTS + VALID_WAKES + [wake(own_id)], JUNK_OTHERS])
    return len(JUNK_TEXTS) + len(JUNK_OTHERS)


def wait_dropped(page, expected):
    try:
        page.wait_for_function(
            "(n) => document.documentElement.dataset.droppedMessages === String(n)", arg=expected,
            timeout=5000)
    except Exception:
        raise AssertionError(
            f"data-dropped-messages={data(page).get('droppedMessages')!r}, expected {expected}") from None


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_forged_channel_messages_are_dropped_counted_and_harmless(serve, runtime, context, wait_state):
    """Junk on the "tabsession" BroadcastChannel from another same-origin page (wrong schema,
    non-string data, huge payloads, forged orders and wake-ups with other ids): every invalid
    one is dropped and counted, valid wake-ups are not, and no tab changes state or crashes."""
    server = serve(runtime)
    helper = open_helper(context, server)
    page = context.new_page()
    page.goto(server("/login"))
    wait_state(page, "signed-out")

    expected = forge_messages(helper, data(page)["tabId"])

    wait_dropped(page, expected)
    assert "signed-out" == data(page)["tabState"]

    sign_in(page, wait_state)
    tab_id = data(page)["tabId"]
    # The sign-in happens in place (one document), so the count goes on from the sign-in page's.
    before = int(data(page).get("droppedMessages") or 0)
    helper.evaluate(_POST, [[wake(OTHER_ID)] * 300, []])  # a flood of wake-ups
    expected = before + forge_messages(helper, tab_id)

    wait_dropped(page, expected)
    page.wait_for_timeout(1000)
    assert ("active", tab_id) == (data(page)["tabState"], data(page)["tabId"])
    assert page.locator("#app").is_visible()


def forged_record(tab_id, state="active", seen_offset=0.0):
    now = time.time()
    return json.dumps({"v": 1, "id": tab_id, "state": state, "page": "app", "slot": 0, "opened": now,
                       "last_active": now, "since": now, "seen": now + seen_offset})


@pytest.mark.no_pyodide_twin(
    "decoding is the core's; the Pyodide twin of forged input is test_forged_channel_messages_are_dropped_counted_and_harmless")
@pytest.mark.parametrize("runtime", selected_runtimes())
def test_forged_tab_records_never_sign_in_or_take_a_place(serve, runtime, context, wait_state):
    """Storage events from another page: tab records of tabs that do not exist, claiming to be
    active (now, and dated far in the future). A signed-out tab stays signed out; a signed-in tab
    stays active and does not list them; a new tab is still refused by the real active tab only."""
    server = serve(runtime)
    helper = open_helper(context, server)
    page = context.new_page()
    page.goto(server("/login"))
    wait_state(page, "signed-out")
    forged = {records.tab_key(OTHER_ID): forged_record(OTHER_ID),
              records.tab_key("e" * 32): forged_record("e" * 32, seen_offset=86400 * 365)}

    plant(helper, forged)
    page.wait_for_timeout(1500)
    assert "signed-out" == data(page)["tabState"]
    # (One document shows both pages: the protected part is there, hidden and empty.)
    assert (False, "") == (page.locator("#app").is_visible(), page.locator("#user").text_content())

    sign_in(page, wait_state)
    plant(helper, forged)
    page.wait_for_timeout(1500)
    assert "active" == data(page)["tabState"]
    assert [data(page)["tabId"]] == listed_ids(page)
    second = context.new_page()
    second.goto(server("/"))
    wait_state(second, "blocked")
    assert "active" == data(page)["tabState"]


@pytest.mark.no_pyodide_twin(
    "decoding is the core's; the Pyodide twin of forged input is test_forged_channel_messages_are_dropped_counted_and_harmless")
@pytest.mark.parametrize("runtime", selected_runtimes())
def test_forged_ended_session_signs_out_cleanly_and_signs_nobody_in(serve, runtime, context, wait_state):
    """Another page replaces the live session with an ended record of a different token: the
    tabs follow it to the login page (plain signed-out, not the forged reason), without errors,
    and the ended record then signs nobody in."""
    server = serve(runtime)
    helper = open_helper(context, server)
    page = context.new_page()
    page.goto(server("/login"))
    sign_in(page, wait_state)
    ended = json.dumps({"v": 1, "token": FORGED_TOKEN, "ended": "idle", "at": time.time()})

    plant(helper, {SESSION_KEY: ended})

    page.wait_for_url(re.compile(r"/login\?reason=signed-out$"), timeout=5000)
    wait_state(page, "signed-out")
    assert "signed-out" == data(page)["reason"]
    again = context.new_page()
    again.goto(server("/"))
    wait_state(again, "signed-out")
    assert "/login?next=%2F" == path_of(again)
