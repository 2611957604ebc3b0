"""Storage leases: the lock adapter for browsers without Web Locks, over a fake localStorage."""

import pytest

from tabsession.browser.leases import (
    LEASE_CHARS, RENEW_SECONDS, TTL_SECONDS, StorageLeases, decode, encode, lease_key)

T0 = 1700000000.0


class Profile:
    """One localStorage, one clock and one task queue shared by several page loads."""

    def __init__(self):
        self.local = {}
        self.now = T0
        self.tasks = []
        self.ids = 0
        self.fail_writes = None

    # the store face
    def read(self, key):
        return self.local.get(key)

    def write(self, key, value):
        if self.fail_writes:
            return self.fail_writes
        if value is None:
            self.local.pop(key, None)
        else:
            self.local[key] = value
        return None

    def keys(self):
        return list(self.local)

    def random_id(self):
        self.ids += 1
        return "%032x" % self.ids

    def later(self, function):
        self.tasks.append(function)

    def run(self):
        while self.tasks:
            self.tasks.pop(0)()

    def page(self):
        return Page(self)


class Clock:
    def __init__(self, profile):
        self.profile = profile

    def now(self):
        return self.profile.now


class Page:
    """A page load: the adapter and what it answered."""

    def __init__(self, profile):
        self.leases = StorageLeases(profile, Clock(profile), profile, profile.later)
        self.answers = []
        self.lost = []
        self.leases.connect(lambda claimed: self.answers.append(("claimed", claimed)),
                            lambda index: self.answers.append(("acquired", index)),
                            self.lost.append,
                            lambda names: self.answers.append(("names", sorted(names))))


@pytest.fixture
def profile():
    return Profile()


def test_a_free_lease_is_claimed_and_a_held_one_is_not(profile):
    """The first page claims the name; a second page (a copy of the tab) is refused it."""
    first, second = profile.page(), profile.page()

    first.leases.claim("tab:a")
    second.leases.claim("tab:a")
    profile.run()

    assert ([("claimed", True)], [("claimed", False)]) == (first.answers, second.answers)


def test_acquire_takes_the_first_free_name_in_order(profile):
    """Slot 0 is held: acquire answers 1; with both held, -1."""
    first, second, third = profile.page(), profile.page(), profile.page()
    first.leases.acquire(["slot:0"], False)

    second.leases.acquire(["slot:0", "slot:1"], False)
    third.leases.acquire(["slot:0", "slot:1"], False)
    profile.run()

    assert ([("acquired", 0)], [("acquired", 1)], [("acquired", -1)]) == \
        (first.answers, second.answers, third.answers)


def test_steal_takes_the_lease_and_the_old_holder_learns_it_on_its_next_check(profile):
    """Use here: the thief gets the slot; the holder is told on_lost when it next looks."""
    holder, thief = profile.page(), profile.page()
    holder.leases.acquire(["slot:0"], False)
    profile.run()

    thief.leases.acquire(["slot:0"], True)
    profile.run()
    holder.leases.check()

    assert ([("acquired", 0)], ["slot:0"], {}) == (thief.answers, holder.lost, holder.leases.held)


def test_two_pages_taking_the_same_free_lease_at_once_end_with_one_holder(profile):
    """Both write before either answer is read back: only the later write is granted."""
    first, second = profile.page(), profile.page()

    first.leases.acquire(["slot:0"], False)
    profile.local[lease_key("slot:0")] = encode(second.leases.holder, T0 + TTL_SECONDS)  # raced
    second.leases.held["slot:0"] = T0 + TTL_SECONDS
    second.leases._answer_acquired(["slot:0"], 0)
    profile.run()

    assert ([("acquired", -1)], [("acquired", 0)]) == (first.answers, second.answers)


def test_release_frees_the_lease_for_the_next_page(profile):
    """A released slot (sign-out, navigation) is free at once."""
    first, second = profile.page(), profile.page()
    first.leases.acquire(["slot:0"], False)
    profile.run()

    first.leases.release("slot:0")
    second.leases.acquire(["slot:0"], False)
    profile.run()

    assert [("acquired", 0)] == second.answers


def test_a_crashed_pages_lease_expires(profile):
    """No release and no renewal: after the TTL the name is free and no longer listed."""
    crashed, later = profile.page(), profile.page()
    crashed.leases.acquire(["slot:0"], False)
    profile.run()

    profile.now += TTL_SECONDS + 1
    later.leases.query()
    profile.run()
    later.leases.acquire(["slot:0"], False)
    profile.run()

    assert [("names", []), ("acquired", 0)] == later.answers


def test_check_renews_a_lease_before_it_expires(profile):
    """A page that keeps looking keeps its lease however long it lives."""
    page, other = profile.page(), profile.page()
    page.leases.acquire(["slot:0"], False)
    profile.run()

    for _ in range(10):
        profile.now += RENEW_SECONDS
        page.leases.check()
    other.leases.acquire(["slot:0"], False)
    profile.run()

    assert ([], [("acquired", -1)]) == (page.lost, other.answers)


def test_hold_waits_until_the_name_is_free(profile):
    """hold() on a held name takes it once the holder releases it (at the next check)."""
    first, second = profile.page(), profile.page()
    first.leases.claim("tab:a")
    profile.run()

    second.leases.hold("tab:a")
    first.leases.release_all()
    second.leases.check()

    assert ({}, ["tab:a"]) == (first.leases.held, list(second.leases.held))


def test_a_lease_removed_by_hand_is_written_again(profile):
    """Deleting the key from the developer tools does not make the holder lose its place."""
    page = profile.page()
    page.leases.acquire(["slot:0"], False)
    profile.run()

    del profile.local[lease_key("slot:0")]
    page.leases.check()

    assert ([], page.leases.holder) == (page.lost, decode(profile.local[lease_key("slot:0")])[0])


@pytest.mark.parametrize("raw", [
    None, "", "{", "[]", "null", '{"v": 1}', '{"v": 2, "holder": "%s", "until": 1}' % ("a" * 32),
    '{"v": 1, "holder": "x", "until": 1800000000}', '{"v": 1, "holder": "%s", "until": "9"}' % ("a" * 32),
    '{"v": true, "holder": "%s", "until": 1800000000}' % ("a" * 32), "x" * 5000,
])
def test_junk_under_a_lease_key_is_a_free_lease(profile, raw):
    """Corrupt, wrong-typed or oversized values never count as held."""
    if raw is not None:
        profile.local[lease_key("slot:0")] = raw
    page = profile.page()

    page.leases.acquire(["slot:0"], False)
    page.leases.query()
    profile.run()

    assert [("acquired", 0), ("names", ["slot:0"])] == page.answers


def test_a_write_that_fails_takes_nothing(profile):
    """Storage full or denied: the lease is not taken, and the error is kept for the driver."""
    page = profile.page()
    profile.fail_writes = "QuotaExceededError"

    page.leases.acquire(["slot:0"], False)
    profile.run()

    assert ([("acquired", -1)], "QuotaExceededError") == (page.answers, page.leases.failed)


@pytest.mark.parametrize("until", [0, 1.5, 1796587066.9771667, 1796587069.048454, 99999999999.99998, 1e-07])
def test_a_lease_is_as_long_whatever_its_time(until):
    """A renewal rewrites the lease where it was: it must fit in a storage area that is full."""
    text = encode("f" * 32, until)

    assert (LEASE_CHARS, ("f" * 32, float(until))) == (len(text), decode(text))
