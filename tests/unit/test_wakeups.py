"""WakeUps: when a woken tab reads storage and when it asks the lock manager (core/wakeups.py)."""

from tabsession.core.events import Snapshot
from tabsession.core.wakeups import WakeUps

ALIVE = "a" * 32
DEAD = "d" * 32
NEW = "e" * 32
SETTLED = ("active", "settled")


def answered(live=(ALIVE,), raws=None):
    """WakeUps that have had one answer: ``live`` alive, storage holding ``raws`` then."""
    wakeups = WakeUps()
    wakeups.query_started()
    wakeups.answered(list(live), raws if raws is not None else {ALIVE: "r1"})
    return wakeups


def snapshot(raws, live=(ALIVE,), session="s"):
    return Snapshot(session, None, dict(raws), list(live))


def test_a_wake_up_reads_storage_at_once():
    """With no query out, a wake-up is handled now, without asking the lock manager first."""
    wakeups = answered()

    actual = wakeups.woke()

    assert True is actual


def test_wake_ups_during_a_query_only_mark_the_tab_dirty():
    """Wake-ups that come while a query is out are covered by one look after the answer."""
    wakeups = answered()
    wakeups.query_started()

    actual = [wakeups.woke(), wakeups.woke(), wakeups.woke()]

    assert ([False, False, False], True) == (actual, wakeups.dirty)


def test_the_answer_passes_on_a_tick_that_came_during_the_query():
    """A tick during a query makes the look after the answer a periodic one (deadlines)."""
    wakeups = answered()
    wakeups.query_started()
    wakeups.woke()
    wakeups.woke(periodic=True)

    actual = wakeups.answered([ALIVE], {})

    assert (True, False, False) == (actual, wakeups.dirty, wakeups.querying)


def test_the_answer_without_a_tick_is_not_periodic():
    """Plain wake-ups during a query do not turn the next look into a periodic one."""
    wakeups = answered()
    wakeups.query_started()
    wakeups.woke()

    actual = wakeups.answered([ALIVE], {})

    assert False is actual


def test_no_query_while_one_is_out():
    """At most one query at a time, even on a tick."""
    wakeups = answered()
    wakeups.query_started()

    actual = wakeups.should_query({NEW: "r"}, periodic=True)

    assert False is actual


def test_the_same_snapshot_is_not_fed_twice():
    """The message that follows the storage event of one write changes nothing: not fed again."""
    wakeups = answered()
    seen = snapshot({ALIVE: "r1"})
    wakeups.fed(seen, SETTLED)

    actual = wakeups.worth_feeding(snapshot({ALIVE: "r1"}), SETTLED, periodic=False)

    assert False is actual


def test_a_changed_snapshot_is_fed():
    """Anything new in storage is fed."""
    wakeups = answered()
    wakeups.fed(snapshot({ALIVE: "r1"}), SETTLED)

    actual = [wakeups.worth_feeding(snapshot({ALIVE: "r2"}), SETTLED, False),
              wakeups.worth_feeding(snapshot({ALIVE: "r1"}, session="ended"), SETTLED, False),
              wakeups.worth_feeding(snapshot({ALIVE: "r1"}, live=()), SETTLED, False)]

    assert [True, True, True] == actual


def test_the_same_snapshot_is_fed_after_the_machine_moved_on_or_on_a_tick():
    """A machine that changed phase, or time passing (the tick), gets the same snapshot again."""
    wakeups = answered()
    seen = snapshot({ALIVE: "r1"})
    wakeups.fed(seen, ("booting", "admitting"))

    actual = [wakeups.worth_feeding(seen, SETTLED, False),
              wakeups.worth_feeding(seen, ("booting", "admitting"), True)]

    assert [True, True] == actual


def test_no_query_when_storage_names_only_known_tabs():
    """Live tabs, and a dead tab's record that has not changed since the answer: no query."""
    wakeups = answered(live=[ALIVE], raws={ALIVE: "r1", DEAD: "old"})

    actual = wakeups.should_query({ALIVE: "r2", DEAD: "old"}, periodic=False)

    assert False is actual


def test_a_new_tab_in_storage_asks_the_lock_manager():
    """A record of a tab the last answer did not know: ask which tabs live."""
    wakeups = answered()

    actual = wakeups.should_query({ALIVE: "r1", NEW: "n1"}, periodic=False)

    assert True is actual


def test_an_unlisted_record_that_changes_asks_the_lock_manager():
    """A tab whose lock came after the answer writes again: ask again (a dead one writes nothing)."""
    wakeups = answered(live=[ALIVE], raws={ALIVE: "r1", NEW: "n1"})

    actual = wakeups.should_query({ALIVE: "r1", NEW: "n2"}, periodic=False)

    assert True is actual


def test_the_tick_and_a_missing_answer_ask_the_lock_manager():
    """Crashed tabs write nothing (the tick finds them); without any answer, always ask."""
    known = answered()

    actual = [known.should_query({ALIVE: "r1"}, periodic=True),
              WakeUps().should_query({}, periodic=False)]

    assert [True, True] == actual


def test_an_answer_that_cannot_tell_keeps_the_last_one():
    """A failed query (None) keeps the live ids of the last good answer."""
    wakeups = answered(live=[ALIVE])
    wakeups.query_started()

    wakeups.answered(None, {})

    assert [ALIVE] == wakeups.live_ids
