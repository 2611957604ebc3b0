"""User names (app/tabsession/core/names.py): one rule, the same answer on CPython and MicroPython.

The cases are tests/support/name_cases.py, also run in real pages of both interpreters by
tests/e2e/test_hardening_names.py. Here CPython answers each case, then the vendored MicroPython
(the one the pages load, under Node) answers all of them in one run.
"""

import json
import unicodedata

import name_cases  # tests/support/, on pytest's pythonpath
import pytest
from micropython_node import run_in_micropython  # tests/support/

from tabsession.core import names
from tabsession.core import records as rec
from tabsession.core.machine import username_of

CASES = [pytest.param(text, kept, id=case_id) for case_id, text, kept in name_cases.CASES]


@pytest.mark.parametrize(("text", "kept"), CASES)
def test_a_typed_name_is_kept_trimmed_or_refused(text, kept):
    """What the sign-in form, the machine and the server make of a typed name."""

    actual = names.name_of(text)

    assert kept == actual


@pytest.mark.parametrize(("text", "kept"), CASES)
def test_the_machine_and_the_server_use_the_rule(text, kept):
    """machine.username_of, which the server imports, answers as names.py does."""

    actual = username_of(text)

    assert kept == actual


@pytest.mark.parametrize(("text", "kept"), CASES)
def test_storage_holds_only_what_a_sign_in_keeps(text, kept):
    """records.is_user accepts a typed text exactly when a sign-in would keep it unchanged."""

    actual = rec.is_user(text)

    assert (text == kept) == actual


@pytest.mark.parametrize("value", [None, 7, b"alice", ["alice"]])
def test_anything_but_text_is_no_name(value):

    actual = (names.name_of(value), names.is_name(value), username_of(value))

    assert (None, False, None) == actual


def test_a_stored_session_of_an_untrimmed_name_is_no_session():
    """What MicroPython used to keep ("\\u3000admin\\u3000") no longer decodes on any runtime."""
    text = json.dumps({"v": rec.VERSION, "token": "0" * 32, "user": "\u3000admin\u3000",
                       "signed_in_at": 1.0})

    actual = rec.decode_session(text)

    assert None is actual


def test_every_cpython_space_is_blank():
    """The table holds at least everything CPython's (and so Pyodide's) str.strip() removes."""

    actual = [hex(code) for code in range(0x110000) if chr(code).isspace() and not names.is_blank(chr(code))]

    assert [] == actual


def test_the_cases_name_every_cpython_space():
    """name_cases.CPYTHON_SPACES is the whole set, so the other runtimes are asked about each."""

    actual = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())

    assert name_cases.CPYTHON_SPACES == actual


def test_the_only_blank_controls_are_spaces():
    """A control character is trimmed at the ends only when CPython calls it a space: the
    others (NUL, bell, DEL, C1 ...) still refuse a name (names.py N3)."""

    actual = [hex(code) for first, last in names.BLANK for code in range(first, last + 1)
              if unicodedata.category(chr(code)) == "Cc" and not chr(code).isspace()]

    assert [] == actual


@pytest.mark.parametrize("table", ["BLANK", "SEQUENCE_PARTS", "CONTROL"])
def test_each_table_is_sorted_and_without_overlaps(table):
    """names._within stops at the first range past the code point: the order is part of the rule."""
    ranges = getattr(names, table)

    actual = all(first <= last for first, last in ranges) and all(
        earlier[1] < later[0] for earlier, later in zip(ranges, ranges[1:]))

    assert True is actual


def test_blank_and_sequence_parts_do_not_overlap():
    blank = {code for first, last in names.BLANK for code in range(first, last + 1)}

    actual = sorted(hex(code) for first, last in names.SEQUENCE_PARTS for code in range(first, last + 1)
                    if code in blank)

    assert [] == actual


def test_records_and_names_agree_on_the_length():
    assert names.MAX_CHARS == rec.MAX_USER_CHARS


# --- the same cases in MicroPython -----------------------------------------------------------

# Texts travel as code points both ways: nothing on the way can change them.
ANSWER_EVERY_CASE = """
import json
from tabsession.core import names
answers = []
for points in CASES:
    name = names.name_of("".join([chr(point) for point in points]))
    answers.append(None if name is None else [ord(char) for char in name])
print(json.dumps(answers))
"""


def answers_of_micropython(texts):
    """What the vendored MicroPython's names.name_of makes of each text (code point lists)."""
    python = f"CASES = {[name_cases.points(text) for text in texts]!r}\n" + ANSWER_EVERY_CASE
    return json.loads(run_in_micropython(["core/names.py"], python))


def test_micropython_answers_every_case_as_cpython_does():
    """The vendored MicroPython (the pages' own) keeps, trims and refuses exactly as the table says."""
    expected = {case_id: name_cases.points(kept) for case_id, _, kept in name_cases.CASES}

    actual = dict(zip(name_cases.ids(), answers_of_micropython(name_cases.inputs())))

    assert expected == actual
