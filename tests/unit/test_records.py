"""Records in storage: every encode decodes back, and anything else decodes to None."""

import json

import pytest
from micropython_node import run_in_micropython  # tests/support/
from hypothesis import given, settings
from hypothesis import strategies as st

from tabsession.core import records as rec

TOKEN = "0123456789abcdef" * 2
TAB_ID = "fedcba9876543210" * 2
T0 = 1700000000.0

DECODERS = (rec.decode_session, rec.decode_activity, rec.decode_tab_record, rec.decode_tab_memory)
RESULT_TYPES = {
    rec.decode_session: (rec.Session, rec.EndedSession),
    rec.decode_activity: (rec.Activity,),
    rec.decode_tab_record: (rec.TabRecord,),
    rec.decode_tab_memory: (rec.TabMemory,),
}


def session(**changes):
    fields = {"token": TOKEN, "user": "alice", "signed_in_at": T0}
    fields.update(changes)
    return rec.Session(**fields)


def ended(**changes):
    fields = {"token": TOKEN, "reason": rec.IDLE, "at": T0}
    fields.update(changes)
    return rec.EndedSession(**fields)


def activity(**changes):
    fields = {"token": TOKEN, "at": T0}
    fields.update(changes)
    return rec.Activity(**fields)


def tab_record(**changes):
    fields = {"tab_id": TAB_ID, "state": rec.ACTIVE, "page": "app", "slot": 0, "opened": T0,
              "last_active": T0 + 5}
    fields.update(changes)
    return rec.TabRecord(**fields)


def tab_memory(**changes):
    fields = {"tab_id": TAB_ID, "token": TOKEN, "slot": 1, "use_here": False}
    fields.update(changes)
    return rec.TabMemory(**fields)


def with_field(record, **changes):
    """The record's JSON text with some fields changed (or removed, for the value ``...``)."""
    data = json.loads(record.encode())
    for name, value in changes.items():
        if value is Ellipsis:
            del data[name]
        else:
            data[name] = value
    return json.dumps(data)


def raw_with(record, text_old, text_new):
    return record.encode().replace(text_old, text_new)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("record", [
    session(),
    session(user="x" * 64, signed_in_at=0),
    session(user="Zoë <b>&amp;</b>", signed_in_at=rec.MAX_TIME),
    session(signed_in_at=1700000000),
])
def test_session_round_trip(record):
    """A live session decodes to what was encoded."""

    actual = rec.decode_session(record.encode())

    assert record == actual


@pytest.mark.parametrize("reason", rec.END_REASONS)
def test_ended_session_round_trip(reason):
    """An ended session decodes to what was encoded, for each end reason."""
    record = ended(reason=reason)

    actual = rec.decode_session(record.encode())

    assert record == actual


@pytest.mark.parametrize("record", [activity(), activity(at=0), activity(at=rec.MAX_TIME)])
def test_activity_round_trip(record):
    """Activity decodes to what was encoded."""

    actual = rec.decode_activity(record.encode())

    assert record == actual


@pytest.mark.parametrize("record", [
    tab_record(),
    tab_record(slot=None, state=rec.BLOCKED, page="login"),
    tab_record(slot=999),
    tab_record(since=T0 + 7, seen=T0 + 9),
] + [tab_record(state=state) for state in rec.STATES])
def test_tab_record_round_trip(record):
    """A tab record decodes to what was encoded, for every state."""

    actual = rec.decode_tab_record(record.encode())

    assert record == actual


@pytest.mark.parametrize("record", [
    tab_memory(),
    tab_memory(token=None, slot=None),
    tab_memory(use_here=True, slot=0),
])
def test_tab_memory_round_trip(record):
    """Tab memory decodes to what was encoded."""

    actual = rec.decode_tab_memory(record.encode())

    assert record == actual


def test_tab_key_round_trip():
    """A tab's key names the tab; other keys name none."""

    actual = [rec.tab_id_from_key(rec.tab_key(TAB_ID)), rec.tab_id_from_key(rec.SESSION_KEY),
              rec.tab_id_from_key(rec.TAB_MEMORY_KEY), rec.tab_id_from_key(None),
              rec.tab_id_from_key(rec.tab_key(TAB_ID.upper()))]

    assert [TAB_ID, None, None, None, None] == actual


# ------------------------------------------------------------- hostile inputs
HOSTILE_FOR_ALL = [
    None,
    17,
    1.5,
    b'{"v": 1}',
    ["not", "text"],
    {"v": 1},
    "",
    "not json",
    "{",
    "null",
    "1",
    "1e308",
    "NaN",
    "[]",
    "[1, 2]",
    '"text"',
    "true",
    "{}",
    '{"v": 1}',
    '{"__proto__": {"v": 1}}',
    " " * (4 * 1024 * 1024),
    '{"v": 1, "pad": "' + "x" * (4 * 1024 * 1024) + '"}',
]


@pytest.mark.parametrize("decode", DECODERS, ids=lambda decode: decode.__name__)
@pytest.mark.parametrize("raw", HOSTILE_FOR_ALL, ids=lambda raw: repr(raw)[:30])
def test_decoders_refuse_junk(decode, raw):
    """Every decoder gives None for values that are not records at all."""

    actual = decode(raw)

    assert None is actual


def bad_sessions():
    good = session()
    yield "token too short", with_field(good, token="abc")
    yield "token upper case", with_field(good, token=TOKEN.upper())
    yield "token not text", with_field(good, token=12)
    yield "user blank", with_field(good, user="")
    yield "user only spaces", with_field(good, user="   ")
    yield "user padded", with_field(good, user=" alice")
    yield "user too long", with_field(good, user="x" * 65)
    yield "user not text", with_field(good, user=["alice"])
    yield "time negative", with_field(good, signed_in_at=-1)
    yield "time 1e308", with_field(good, signed_in_at=1e308)
    yield "time too late", with_field(good, signed_in_at=rec.MAX_TIME + 1)
    yield "time text", with_field(good, signed_in_at="1700000000")
    yield "time bool", with_field(good, signed_in_at=True)
    yield "time null", with_field(good, signed_in_at=None)
    yield "time NaN", raw_with(good, str(T0), "NaN")
    yield "time Infinity", raw_with(good, str(T0), "Infinity")
    yield "time -Infinity", raw_with(good, str(T0), "-Infinity")
    yield "missing user", with_field(good, user=...)
    yield "missing version", with_field(good, v=...)
    yield "extra field", with_field(good, admin=True)
    yield "__proto__ field", with_field(good, __proto__={"admin": True})
    yield "version 2", with_field(good, v=2)
    yield "version 0", with_field(good, v=0)
    yield "version text", with_field(good, v="1")
    yield "version bool", with_field(good, v=True)
    yield "version float", with_field(good, v=1.0)
    yield "ended unknown reason", with_field(ended(), ended="taken-over")
    yield "ended reason null", with_field(ended(), ended=None)
    yield "ended and live mixed", with_field(good, ended="idle")
    yield "ended time negative", with_field(ended(), at=-5)
    yield "ended time bool", with_field(ended(), at=False)


@pytest.mark.parametrize("label,raw", list(bad_sessions()), ids=[label for label, _ in bad_sessions()])
def test_decode_session_refuses_bad_fields(label, raw):
    """A session with one wrong, missing or extra field is no session."""

    actual = rec.decode_session(raw)

    assert None is actual


def bad_activities():
    good = activity()
    yield "token bad", with_field(good, token="z" * 32)
    yield "at negative", with_field(good, at=-0.5)
    yield "at 1e308", with_field(good, at=1e308)
    yield "at bool", with_field(good, at=True)
    yield "at NaN", raw_with(good, str(T0), "NaN")
    yield "missing at", with_field(good, at=...)
    yield "extra", with_field(good, user="alice")
    yield "version 2", with_field(good, v=2)


@pytest.mark.parametrize("label,raw", list(bad_activities()), ids=[label for label, _ in bad_activities()])
def test_decode_activity_refuses_bad_fields(label, raw):
    """Activity with one wrong, missing or extra field is no activity."""

    actual = rec.decode_activity(raw)

    assert None is actual


def bad_tab_records():
    good = tab_record()
    yield "id bad", with_field(good, id="tab-1")
    yield "state unknown", with_field(good, state="admin")
    yield "page unknown", with_field(good, page="settings")
    yield "slot negative", with_field(good, slot=-1)
    yield "slot too big", with_field(good, slot=1000)
    yield "slot bool", with_field(good, slot=True)
    yield "slot float", with_field(good, slot=0.0)
    yield "slot text", with_field(good, slot="0")
    yield "opened negative", with_field(good, opened=-1)
    yield "opened 1e308", with_field(good, opened=1e308)
    yield "last_active Infinity", raw_with(good, str(T0 + 5), "Infinity")
    yield "last_active bool", with_field(good, last_active=False)
    yield "since negative", with_field(good, since=-1)
    yield "seen bool", with_field(good, seen=True)
    yield "seen NaN", raw_with(good, '"seen": ' + str(T0 + 5), '"seen": NaN')
    yield "missing slot", with_field(good, slot=...)
    yield "missing seen", with_field(good, seen=...)
    yield "extra", with_field(good, owner="x")
    yield "version 2", with_field(good, v=2)


@pytest.mark.parametrize("label,raw", list(bad_tab_records()), ids=[label for label, _ in bad_tab_records()])
def test_decode_tab_record_refuses_bad_fields(label, raw):
    """A tab record with one wrong, missing or extra field is no record."""

    actual = rec.decode_tab_record(raw)

    assert None is actual


def bad_memories():
    good = tab_memory()
    yield "id bad", with_field(good, id=None)
    yield "token bad", with_field(good, token="")
    yield "slot negative", with_field(good, slot=-3)
    yield "slot bool", with_field(good, slot=False)
    yield "use_here int", with_field(good, use_here=1)
    yield "use_here text", with_field(good, use_here="true")
    yield "use_here null", with_field(good, use_here=None)
    yield "missing use_here", with_field(good, use_here=...)
    yield "extra", with_field(good, __proto__={})
    yield "version 2", with_field(good, v=2)


@pytest.mark.parametrize("label,raw", list(bad_memories()), ids=[label for label, _ in bad_memories()])
def test_decode_tab_memory_refuses_bad_fields(label, raw):
    """Tab memory with one wrong, missing or extra field is no memory."""

    actual = rec.decode_tab_memory(raw)

    assert None is actual


@pytest.mark.parametrize("decode,record", [
    (rec.decode_activity, session()),
    (rec.decode_tab_record, session()),
    (rec.decode_tab_memory, tab_record()),
    (rec.decode_session, activity()),
    (rec.decode_session, tab_memory()),
], ids=lambda value: getattr(value, "__name__", type(value).__name__))
def test_decoders_refuse_other_record_types(decode, record):
    """A valid record of one kind is not accepted as another kind."""

    actual = decode(record.encode())

    assert None is actual


def test_record_just_over_the_size_limit_is_refused():
    """A record padded beyond MAX_RECORD_CHARS is refused even when its JSON is valid."""
    raw = session().encode()
    padded = raw[:-1] + " " * (rec.MAX_RECORD_CHARS - len(raw) + 1) + "}"

    actual = rec.decode_session(padded)

    assert None is actual


# ---------------------------------------------------------------- fuzzing
JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from(["v", "token", "user", "signed_in_at", "ended", "at", "id", "state",
                               "page", "slot", "opened", "last_active", "since", "seen", "use_here",
                               "__proto__"])
# Objects that look like records: our own field names, with arbitrary values (v is mostly 1).
RECORD_LIKE = st.dictionaries(FIELD_NAMES, JSON_VALUES | st.just(1) | st.just(TOKEN), max_size=8)
FUZZ = settings(max_examples=100, deadline=None)


def check_decoders(raw):
    for decode in DECODERS:
        actual = decode(raw)
        assert actual is None or isinstance(actual, RESULT_TYPES[decode])
        if actual is not None:
            # Whatever is accepted encodes back to an equal record.
            assert actual == decode(actual.encode())


@FUZZ
@given(raw=st.text(max_size=300))
def test_decoders_never_raise_on_text(raw):
    """Arbitrary text never makes a decoder raise; each returns None or its own type."""

    check_decoders(raw)


@FUZZ
@given(value=JSON_VALUES)
def test_decoders_never_raise_on_json(value):
    """Arbitrary JSON values never make a decoder raise."""

    check_decoders(json.dumps(value))


@FUZZ
@given(value=RECORD_LIKE)
def test_decoders_never_raise_on_record_like_objects(value):
    """Objects made of our own field names and arbitrary values never make a decoder raise."""

    check_decoders(json.dumps(value))


@settings(max_examples=40, deadline=None)
@given(value=JSON_VALUES.filter(lambda value: not isinstance(value, str)))
def test_decoders_never_raise_on_non_text(value):
    """Values that are not text at all (as a careless adapter might pass) give None."""

    actual = [decode(value) for decode in DECODERS]

    assert [None] * len(DECODERS) == actual


# ---------------------------------------------------------------- memo (issue 8)
def test_a_record_text_is_decoded_once():
    """The same text decodes to the very same value: every look re-reads every record."""
    raw = rec.TabRecord("a" * 32, rec.ACTIVE, "app", 0, 1.0, 2.0, 3.0, 4.0).encode()

    first, second = rec.decode_tab_record(raw), rec.decode_tab_record(raw)

    assert (True, first) == (first is second, rec.decode_tab_record(str(raw)))


def test_the_memo_stays_bounded_under_many_distinct_texts():
    """Forged traffic with ever new texts cannot grow the memo without end."""
    for index in range(3 * rec.MEMO_LIMIT):
        rec.decode_tab_record('{"junk": %d}' % index)

    assert rec.memo_size() <= rec.MEMO_LIMIT


def test_memoized_decoders_still_reject_what_is_not_a_record():
    """Memoizing changes no answer: junk and non-text are still None."""
    actual = [rec.decode_session("junk"), rec.decode_session("junk"), rec.decode_activity(None),
              rec.decode_tab_record(42)]

    assert [None, None, None, None] == actual


# ------------------------------------------------------------------ fixed widths
# A tab rewrites its record and the activity while it lives: each rewrite must fit where the
# last one was, or a storage area that something else filled up refuses it and the tab ends in
# the error state (CI saw this when a time's shortest form grew by a digit).
TIMES = st.floats(min_value=0, max_value=rec.MAX_TIME, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(state=st.sampled_from(rec.STATES), page=st.sampled_from(["app", "login"]),
       slot=st.one_of(st.none(), st.integers(0, 999)), times=st.lists(TIMES, min_size=4, max_size=4))
def test_a_tab_record_is_as_long_whatever_its_state_slot_and_times(state, page, slot, times):
    record = tab_record(state=state, page=page, slot=slot, opened=times[0], last_active=times[1],
                        since=times[2], seen=times[3])

    text = record.encode()

    assert (rec.TAB_RECORD_CHARS, record) == (len(text), rec.decode_tab_record(text))


@settings(max_examples=300, deadline=None)
@given(at=TIMES)
def test_an_activity_is_as_long_whatever_its_time(at):
    text = activity(at=at).encode()

    assert (rec.ACTIVITY_CHARS, activity(at=at)) == (len(text), rec.decode_activity(text))


# What the pages' own MicroPython writes for times of every length (its float repr is its own).
WIDTHS_IN_MICROPYTHON = """
import json
from tabsession.core import records as rec
times = [0, 1.5, 1796587066.9771667, 1796587069.048454, 1796587071.1, 99999999999.99998, 1e-07,
         1.2345678901234567e-05, rec.MAX_TIME]
widths = set()
for t in times:
    for state in rec.STATES:
        text = rec.TabRecord("f" * 32, state, "login", 999, t, t, t, t).encode()
        widths.add(("tab", len(text), rec.decode_tab_record(text) is not None))
    text = rec.Activity("0" * 32, t).encode()
    widths.add(("activity", len(text), rec.decode_activity(text) is not None))
print(json.dumps(sorted(widths)))
"""


def test_micropython_writes_the_same_widths():
    out = run_in_micropython(["core/names.py", "core/values.py", "core/records.py"], WIDTHS_IN_MICROPYTHON)

    assert [["activity", rec.ACTIVITY_CHARS, True], ["tab", rec.TAB_RECORD_CHARS, True]] == json.loads(out)


@settings(max_examples=300, deadline=None)
@given(user=st.text(min_size=1, max_size=rec.MAX_USER_CHARS), signed_in_at=TIMES,
       reason=st.sampled_from(rec.END_REASONS), at=TIMES)
def test_an_ended_session_fits_where_the_live_one_was(user, signed_in_at, reason, at):
    """A sign-out (or an expiry) rewrites the session as ended: never longer than it was."""
    live = session(user=user, signed_in_at=signed_in_at).encode()

    assert len(ended(reason=reason, at=at).encode()) <= len(live)
