"""Messages between tabs: a wake-up names its sender, anything else is dropped."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabsession.core import wire

TAB_ID = "0123456789abcdef" * 2


def message(**changes):
    data = {"v": wire.VERSION, "type": wire.CHANGED, "from": TAB_ID}
    data.update(changes)
    return json.dumps(data)


def test_changed_round_trip():
    """A 'changed' message decodes to its sender's id."""

    actual = wire.decode(wire.changed(TAB_ID))

    assert TAB_ID == actual


def test_changed_is_small():
    """A wake-up fits well inside the size limit receivers enforce."""

    actual = len(wire.changed(TAB_ID)) <= wire.MAX_MESSAGE_CHARS

    assert True is actual


@pytest.mark.parametrize("raw", [
    None,
    7,
    {"v": 1, "type": "changed", "from": TAB_ID},
    b'{"v": 1}',
    "",
    "not json",
    "null",
    "[]",
    "1e308",
    "NaN",
    message(v=2),
    message(v="1"),
    message(v=True),
    message(v=1.0),
    message(type="logout"),
    message(type=None),
    message(**{"from": "tab-1"}),
    message(**{"from": TAB_ID.upper()}),
    message(**{"from": None}),
    message(extra=1),
    message(__proto__={}),
    json.dumps({"v": 1, "type": "changed"}),
    message(pad="x" * wire.MAX_MESSAGE_CHARS),
    "x" * (4 * 1024 * 1024),
], ids=lambda raw: repr(raw)[:40])
def test_hostile_messages_are_dropped(raw):
    """Anything but an exact, small, well-formed wake-up decodes to None."""

    actual = wire.decode(raw)

    assert None is actual


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["v", "type", "from", "x"]) | st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(raw=st.one_of(st.text(max_size=300), JSON_VALUES.map(json.dumps), JSON_VALUES))
def test_decode_never_raises(raw):
    """Arbitrary text, JSON and values never make decode raise; a result is always a valid id."""

    actual = wire.decode(raw)

    assert actual is None or actual == TAB_ID or (len(actual) == 32 and actual == actual.lower())


def batch(texts=(), more=0, junk=0, events=0):
    counted = [list(text) if isinstance(text, tuple) else [text, 1] for text in texts]
    return json.dumps({"texts": counted, "more": more, "junk": junk, "events": events})


@pytest.mark.parametrize("raw, expected", [
    (batch([wire.changed("a" * 32)]), (True, 0)),
    (batch(["junk", wire.changed("a" * 32), "{}"], junk=2), (True, 4)),  # 2 bad texts + 2 non-strings
    (batch(["junk"], junk=1), (False, 2)),  # nothing valid: dropped, no look
    (batch([("junk", 5), (wire.changed("a" * 32), 300)]), (True, 5)),  # each time it came
    (json.dumps({"texts": [["junk", 0], "junk", ["junk", "2"], 7]}), (False, 0)),  # not entries
    (batch(events=3), (True, 0)),  # storage events of the library's keys
    (batch(more=40), (True, 0)),  # strings past the batch's texts: merged unchecked
    (batch(more=-5, junk="7", events=None), (False, 0)),
    ("not json", (True, 0)),  # the page's own JS sent something odd: look (harmless), drop nothing
    (None, (True, 0)),
    ("x" * (wire.MAX_BATCH_CHARS + 1), (True, 0)),
])
def test_a_batch_of_wake_ups_wakes_once_and_counts_what_it_drops(raw, expected):
    assert expected == wire.read_batch(raw)


def test_a_batch_checks_at_most_its_texts():
    texts = ["junk %d" % number for number in range(wire.MAX_BATCH_TEXTS + 20)]
    assert (False, wire.MAX_BATCH_TEXTS) == wire.read_batch(batch(texts))


@given(st.text(max_size=400))
def test_read_batch_never_raises(raw):
    woken, dropped = wire.read_batch(raw)
    assert isinstance(woken, bool) and dropped >= 0
