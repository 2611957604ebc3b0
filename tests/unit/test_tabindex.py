"""The index of tab records (browser/tabindex.py): localStorage read by name, kept right by the
tabs themselves when concurrent writes lose a change, whatever junk it holds."""

import json

from hypothesis import given, strategies as st

from tabsession.browser import tabindex
from tabsession.browser.tabindex import INDEX_KEY, IndexedLocal
from tabsession.core import records as rec

A, B, C = "a" * 32, "b" * 32, "c" * 32


class Area:
    """localStorage as a dict; counts the keys read."""

    def __init__(self, items=None):
        self.items = dict(items or {})
        self.read_keys = []

    def read_many(self, keys):
        self.read_keys.extend(keys)
        return [self.items.get(key) for key in keys]

    def write(self, key, value):
        if value is None:
            self.items.pop(key, None)
        else:
            self.items[key] = value
        return None


def index_of(area):
    return tabindex.decode(area.items.get(INDEX_KEY))


def test_a_record_joins_the_index_when_written_and_leaves_it_when_removed():
    area = Area()
    tab = IndexedLocal(area)
    tab.write(rec.tab_key(A), "record of A")
    other = IndexedLocal(area)
    other.write(rec.tab_key(B), "record of B")
    assert ([A, B], {A: "record of A", B: "record of B"}) == (index_of(area), tab.read()[2])
    tab.write(rec.tab_key(A), None)
    assert ([B], {B: "record of B"}, []) == (index_of(area), other.read()[2], tab.own)


def test_only_the_librarys_keys_are_read_however_many_others_there_are():
    others = {"analytics:" + str(number): "x" for number in range(5000)}
    area = Area(others)
    tab = IndexedLocal(area)
    tab.write(rec.tab_key(A), "record of A")
    area.read_keys = []
    session_raw, activity_raw, tab_raws = tab.read()
    assert (None, None, {A: "record of A"}) == (session_raw, activity_raw, tab_raws)
    assert sorted(area.read_keys) == sorted([INDEX_KEY, rec.SESSION_KEY, rec.ACTIVITY_KEY, rec.tab_key(A)])


def test_an_entry_lost_to_a_concurrent_write_is_put_back_at_the_next_look():
    area = Area()
    first, second = IndexedLocal(area), IndexedLocal(area)
    first.write(rec.tab_key(A), "record of A")
    second.write(rec.tab_key(B), "record of B")
    area.items[INDEX_KEY] = tabindex.encode([B])  # A's entry lost: the other page wrote last
    assert {B: "record of B", A: "record of A"} == first.read()[2]  # a tab never misses itself
    assert ([B, A], 1) == (index_of(area), first.repairs)
    assert {A: "record of A", B: "record of B"} == second.read()[2]


def test_entries_without_records_are_dropped():
    area = Area({INDEX_KEY: tabindex.encode([A, C]), rec.tab_key(A): "record of A"})
    tab = IndexedLocal(area)
    assert {A: "record of A"} == tab.read()[2]
    assert [A] == index_of(area)


def test_an_index_that_does_not_decode_is_empty_and_every_tab_adds_itself_back():
    area = Area()
    first, second = IndexedLocal(area), IndexedLocal(area)
    first.write(rec.tab_key(A), "record of A")
    second.write(rec.tab_key(B), "record of B")
    area.items[INDEX_KEY] = "{not json"
    first.read()
    second.read()
    assert ({A: "record of A", B: "record of B"}, [A, B]) == (first.read()[2], index_of(area))


def test_a_quiet_look_writes_nothing():
    area = Area()
    tab = IndexedLocal(area)
    tab.write(rec.tab_key(A), "record of A")
    before = dict(area.items)
    tab.read()
    tab.read()
    assert (before, 0) == (area.items, tab.repairs)


def test_a_failed_record_write_leaves_the_index_alone():
    class Full(Area):
        def write(self, key, value):
            return "QuotaExceededError"

    area = Full()
    assert ("QuotaExceededError", None, []) == \
        (IndexedLocal(area).write(rec.tab_key(A), "record"), area.items.get(INDEX_KEY), [])


JUNK = st.one_of(
    st.none(), st.text(max_size=300), st.binary(max_size=50).map(lambda b: b.decode("latin-1")),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40)),
                 lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                 max_leaves=20).map(json.dumps),
    st.lists(st.sampled_from([A, B, C, "A" * 32, "a" * 31, 7, None]), max_size=200).map(
        lambda ids: json.dumps({"v": 1, "ids": ids})),
)


@given(JUNK)
def test_decode_never_raises_and_gives_distinct_valid_ids(raw):
    ids = tabindex.decode(raw)
    assert len(ids) == len(set(ids)) <= tabindex.MAX_IDS
    assert all(rec.is_id(tab_id) for tab_id in ids)


def test_decode_bounds_the_index():
    many = ["%032x" % number for number in range(tabindex.MAX_IDS + 10)]
    assert many[:tabindex.MAX_IDS] == tabindex.decode(json.dumps({"v": 1, "ids": many}))
    assert [] == tabindex.decode("x" * (tabindex.MAX_INDEX_CHARS + 1))
