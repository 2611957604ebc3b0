"""The server as the authority, seen from a tab: its place is one more lock behind the slot lock.

With ``settings.authority == "server"`` the composition wraps the profile's lock adapter (Web
Locks or storage leases) in ``ServerPlaces``. The driver and the core keep talking to a lock
adapter and never ask which one they have:

- a slot is granted only when the profile's own lock is taken *and* the server grants the tab a
  place (``POST /api/places``); the server counts one user's places across every profile,
  device and server process, so the limit holds where the browser cannot see;
- the server says "no" (409): the profile's lock is let go and the answer is "busy", so the core
  refuses the tab as rule 4 says; the session is over (401): ``on_ended(reason)``;
- the place is taken by a tab elsewhere (a push ``{"kind": "moved"}``): the profile's lock is let
  go and the core is told the slot was lost, as when a tab of this profile steals it;
- a tab that loses its slot here, leaves or hides gives its place back to the server.

A grant is a lease: ``(tab, epoch, key)``. ``epoch`` is the server's fencing number: every change
to the user's places bumps it, so credentials of a place since taken over are refused. The lease
lives only in this object (never in storage): a reload asks again. Requests carry it in one
header (``HEADER``), which also makes them non-simple, so other sites cannot send them.

It takes its transport (``http.send``, ``push.open``) as arguments and imports nothing from the
browser, so the tests run it over fakes.
"""

import json

from tabsession.core import records

HEADER = "X-Tabsession-Tab"
PLACES = "/api/places"
SESSION = "/api/session"
ACTIVITY = "/api/activity"
PUSH = "/api/push"
# What a failed request means for the page (status 0: no answer at all).
UNAVAILABLE = "server-unavailable"
ENDED_REASONS = ("signed-out", "idle", "expired")
MAX_ELSEWHERE = 64  # at most this many of the user's tabs elsewhere are listed


class SyncedClock:
    """The server's time, carried between its answers by a clock that never jumps.

    With the server as the authority its clock keeps the deadlines (S5), so the page must not
    trust its own: a system clock frozen, an hour behind or set forward while the page runs
    would end a session early or never report activity. Each answer of the API says the server's
    time; between answers the page adds the time its monotonic clock (``performance.now``) has
    counted since. Before the first answer it has only its own clock (``wall``).
    """

    def __init__(self, monotonic, wall):
        self._monotonic = monotonic
        self._wall = wall
        self._base = None  # (the server's time, the monotonic reading when it came)

    @property
    def synced(self):
        return self._base is not None

    def sync(self, server_now):
        """``server_now``: the server's time in an answer (epoch seconds); junk is ignored."""
        if type(server_now) in (int, float) and server_now > 0:
            self._base = (float(server_now), self._monotonic())

    def now(self):
        if self._base is None:
            return self._wall()
        server_now, at = self._base
        return server_now + max(0.0, self._monotonic() - at)


def credentials(lease):
    """The header value for ``lease`` (tab, epoch, key), or None."""
    if lease is None:
        return None
    return lease[0] + "." + str(lease[1]) + "." + lease[2]


def decode_answer(text):
    """A JSON object from the server's answer text, or {} for anything else."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except Exception:
        data = None
    return data if isinstance(data, dict) else {}


def reason_of(status, data):
    """The reason the server gave with a refusal; the contract's words only."""
    reason = data.get("reason")
    if status == 401:
        return reason if reason in ENDED_REASONS else "signed-out"
    return reason if isinstance(reason, str) and len(reason) <= 40 else None


class ServerPlaces:
    """The driver's ``locks`` adapter when the server is the authority (see the module).

    ``local``: the profile's lock adapter. ``http.send(method, path, body_text, header_value,
    keepalive, done)`` answers ``done(status, text)`` (status 0: no answer). ``push.open(path,
    hello, on_text, on_close)`` sends ``hello`` once connected and returns an object with
    ``close()``.
    """

    def __init__(self, local, http, push, slot_names):
        self.local = local
        self.slot_names = list(slot_names)  # the profile's slot locks, in order
        self.http = http
        self.push = push
        self.mechanism = local.mechanism
        self.lease = None  # (tab_id, epoch, key) while the server grants this tab a place
        self.user = None  # the name the server holds for this profile's session
        self.tab_id = None
        self._pending_tab = None  # the id of the tab lock being claimed
        self._slot_name = None  # the profile's lock held with the lease
        self._asking = None  # the slot names of the acquire in flight
        self._connection = None
        self._touching = False  # one activity report in flight at a time
        # True while the driver carries out the user's Use here (the core's commands for it run
        # synchronously): only then may a claim displace a tab of another profile.
        self.use_here = False
        self._claiming = False  # a claim without a slot (ensure_lease) in flight
        self._waiting = []  # requests made meanwhile: (method, path, body, done)
        self._on_acquired = self._on_lost = None
        self._on_ended = lambda reason: None
        self._on_unavailable = lambda: None
        self._on_elsewhere = lambda entries: None
        self._checking = False  # a check of the place after a broken push is in flight
        # The last ``places`` message of the push connection (what GET /api/places answers),
        # kept while the connection lasts: the server pushes a new one whenever they change.
        self._places_text = None
        self._query = None  # the query in flight: [names, (status, text), parts received]
        # Sign-ins of this page so far: an answer to a query sent before the latest one speaks
        # of the session before it (in place the page goes on after signing in).
        self._sign_ins = 0
        # When each of the user's tabs in other profiles was last active (the server's clock),
        # for the tab list (rule 9); the server never tells their ids.
        self.elsewhere = ()
        # The user of the profile's live session by the server's last places answer, or None
        # (no session, or no answer): a sign-in page decides on it at start (S6).
        self.session_user = None

    @property
    def failed(self):
        return self.local.failed

    # ------------------------------------------------------------ the lock face
    def connect(self, on_claimed, on_acquired, on_lost, on_held_names):
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self.local.connect(lambda claimed: self._claimed(on_claimed, claimed),
                           self._local_acquired, self._local_lost,
                           lambda names: self._local_held(on_held_names, names))

    def connect_server(self, on_ended, on_unavailable, on_elsewhere=None):
        """``on_ended(reason)``: the server ended the session. ``on_unavailable()``: it did not
        answer a claim (the page cannot get a decision). ``on_elsewhere(entries)``: the user's
        active tabs in other profiles changed (``entries``: their last activity, epoch
        seconds by the server's clock, in place order)."""
        self._on_ended = on_ended
        self._on_unavailable = on_unavailable
        if on_elsewhere is not None:
            self._on_elsewhere = on_elsewhere

    def claim(self, name):
        self._pending_tab = records.tab_id_from_key(name)
        self.local.claim(name)

    def _claimed(self, on_claimed, claimed):
        if claimed:
            self.tab_id = self._pending_tab
        on_claimed(claimed)

    def hold(self, name):
        self.tab_id = records.tab_id_from_key(name)
        self.local.hold(name)

    def acquire(self, names, steal):
        # The server is asked to displace only for the user's Use here; the core's own steals
        # (a tab that just signed in) never displace a tab of another profile under ``block``,
        # and under ``takeover`` the server displaces by its own policy.
        self._asking = (list(names), self.use_here)
        self.local.acquire(names, steal)

    def release(self, name):
        if name == self._slot_name:
            self._give_back()
        self.local.release(name)

    def release_all(self):
        self._give_back()
        self.local.release_all()

    def query(self):
        """Ask the profile's lock manager and the server at the same moment: the answer (the
        one a tab's first decision waits for) comes after the slower of the two, not after
        both in turn. The server's answer also sets the page's clock to the server's before
        anything is decided (S5: a page whose clock is an hour ahead must not find its
        session over)."""
        if self.lease is not None and self._connection is None and not self._checking:
            self._push_closed()  # the push broke and the server did not answer: try again
        query = self._query = {"sign_ins": self._sign_ins}
        if self._connection is not None and self._places_text is not None:
            # Holding a place, the tab is told of every change over its push connection: no
            # request at each check (push, not polling).
            self._query_part(query, "server", (200, self._places_text))
        else:
            self.http.send("GET", PLACES, None, None, False,
                           lambda status, text: self._query_part(query, "server", (status, text)))
        self.local.query()

    def _local_held(self, on_held_names, names):
        query = self._query
        if query is None or "local" in query:
            on_held_names(names)  # an answer that no query of ours asked for
            return
        query["to"] = on_held_names
        self._query_part(query, "local", names)

    def _query_part(self, query, part, value):
        """The profile's lock answer, with the places that tabs of other profiles hold added as
        held slots: "a place is free" must mean free for this user, not only in this profile."""
        query[part] = value
        if "local" not in query or "server" not in query:
            return
        if query is self._query:
            self._query = None
        names = query["local"]
        status, text = query["server"]
        user = decode_answer(text).get("user") if status == 200 else None
        self.session_user = user if isinstance(user, str) and user else None
        counted = self._with_others([] if names is None else names, status, text)
        query["to"](None if names is None else counted)
        # The profile's session is over on the server (signed out through another origin of the
        # host, S6): a tab without a place has no push connection to say so.
        ended = decode_answer(text).get("ended") if status == 200 else None
        if ended in ENDED_REASONS and self.lease is None and query["sign_ins"] == self._sign_ins:
            self._on_ended(ended)

    def _with_others(self, names, status, text):
        data = decode_answer(text) if status == 200 else {}
        self._show_elsewhere(data.get("elsewhere"))
        others = data.get("others")
        others = others if type(others) is int and others > 0 else 0
        # This profile's own places beyond the slots its lock manager sees: tabs of the same
        # profile on another origin of the host (another port: cookies are the host's, storage
        # and locks the origin's), which only the server knows of (S6).
        mine = data.get("mine")
        if type(mine) is int and mine > 0:
            seen_here = len([name for name in names if name in self.slot_names])
            others += max(0, min(mine, len(self.slot_names)) - seen_here)
        if others <= 0:
            return names
        held = list(names)
        for name in self.slot_names:
            if others <= 0:
                break
            if name not in held:
                held.append(name)
                others -= 1
        return held

    def _show_elsewhere(self, entries):
        """Keep and tell the list of the server's answer; junk or no answer changes nothing."""
        if not isinstance(entries, list):
            return
        found = []
        for entry in entries[:MAX_ELSEWHERE]:
            last = entry.get("last_active") if isinstance(entry, dict) else None
            if type(last) in (int, float) and last > 0:
                found.append(float(last))
        self._set_elsewhere(tuple(found))

    def _set_elsewhere(self, entries):
        if entries != self.elsewhere:
            self.elsewhere = entries
            self._on_elsewhere(entries)

    def check(self):
        self.local.check()

    # ------------------------------------------------------------ the server
    def _local_acquired(self, index):
        asking, self._asking = self._asking, None
        if index < 0 or asking is None or self.tab_id is None:
            self._on_acquired(-1)
            return
        names, steal = asking
        name = names[index]
        body = json.dumps({"tab": self.tab_id, "use_here": steal})
        self.http.send("POST", PLACES, body, None, False,
                       lambda status, text: self._granted(name, index, status, text))

    def _granted(self, name, index, status, text):
        data = decode_answer(text)
        lease = self._lease_from(data) if status == 200 else None
        if lease is not None:
            self.lease = lease
            self.user = data.get("user") if isinstance(data.get("user"), str) else None
            self._slot_name = name
            self._open_push()
            self._on_acquired(index)
            return
        self.local.release(name)
        if status == 401:
            self._on_ended(reason_of(status, data))
        elif status == 409:
            self._on_acquired(-1)
        else:
            # No answer, a 5xx, or an answer that is not a grant: no decision can be had (S8).
            # The error first: told "busy" first, the core would refuse the tab and send it to
            # the sign-in page, whose next look (the server still away) sends it back: a loop.
            self._on_unavailable()
            self._on_acquired(-1)

    def ensure_lease(self):
        """An active tab that holds no slot (``max_tabs`` 0: no limit) still needs a lease, for
        its credentials and its push: ask for one (requests made meanwhile wait for it)."""
        if self.lease is not None or self._claiming or self.tab_id is None:
            return
        self._claiming = True
        body = json.dumps({"tab": self.tab_id, "use_here": False})
        self.http.send("POST", PLACES, body, None, False, self._granted_without_slot)

    def _granted_without_slot(self, status, text):
        self._claiming = False
        data = decode_answer(text)
        lease = self._lease_from(data) if status == 200 else None
        if lease is not None:
            self.lease = lease
            self._open_push()
        elif status == 401:
            self._on_ended(reason_of(status, data))
        elif status != 409:
            self._on_unavailable()
        self._flush()

    def _flush(self):
        waiting, self._waiting = self._waiting, []
        for method, path, body, done in waiting:
            self.request(method, path, body, done)

    def _lease_from(self, data):
        epoch = data.get("epoch")
        key = data.get("key")
        if type(epoch) is not int or not isinstance(key, str) or not key or "." in key:
            return None
        return (self.tab_id, epoch, key)

    def _local_lost(self, name):
        if name == self._slot_name:
            self._give_back()
        self._on_lost(name)

    def _give_back(self):
        """Return the place to the server (once), even while the page unloads."""
        lease, self.lease = self.lease, None
        self._slot_name = None
        self._close_push()
        if lease is not None:
            self.http.send("DELETE", PLACES, None, credentials(lease), True, lambda status, text: None)

    # ------------------------------------------------------------ push
    def _open_push(self):
        self._close_push()
        self._places_text = None
        # The credentials go as the first message, not in the URL (URLs end up in logs).
        self._connection = self.push.open(PUSH, credentials(self.lease), self._pushed, self._push_closed)

    def _close_push(self):
        self._places_text = None
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _pushed(self, text):
        data = decode_answer(text)
        kind = data.get("kind")
        if kind == "moved" and self._slot_name is not None:
            name = self._slot_name
            self.lease = None
            self._slot_name = None
            self._close_push()
            self.local.release(name)
            self._on_lost(name)
        elif kind == "ended":
            self._give_back()
            self._set_elsewhere(())
            self._on_ended(reason_of(401, data))
        elif kind == "places" and self._connection is not None:
            self._places_text = text
            self._show_elsewhere(data.get("elsewhere"))

    def _push_closed(self):
        """The server closed the push connection (or it broke): ask whether the place is still
        this tab's; the answer (200, 409, 401) is then acted on like a push. Without an answer
        (the server is away) each periodic query asks again, so the tab reconnects once the
        server is back, or learns then what it missed."""
        self._connection = None
        self._places_text = None
        if self.lease is None:
            return
        self._checking = True
        self.http.send("GET", "/api/me", None, credentials(self.lease), False, self._still_mine)

    def _still_mine(self, status, text):
        self._checking = False
        if self.lease is None:
            return
        if status == 200:
            self._open_push()
        elif status == 409:
            self._pushed('{"kind": "moved"}')
        elif status == 401:
            data = decode_answer(text)
            self._pushed(json.dumps({"kind": "ended", "reason": reason_of(401, data)}))

    def credentials(self):
        """The ``HEADER`` value while this tab holds a place, else None."""
        return credentials(self.lease)

    def request(self, method, path, body, done):
        """A request as this tab: ``done(status, data)``, data the answer's JSON object or {}."""
        if self._claiming:
            self._waiting.append((method, path, body, done))
            return
        self.http.send(method, path, body, credentials(self.lease), False,
                       lambda status, text: done(status, decode_answer(text)))

    # ------------------------------------------------------------ the profile's session
    def sign_in(self, name, done):
        """Ask the server to sign this profile in as ``name``: ``done(user, None)`` with the name
        the server keeps, or ``done(None, message)``."""
        def answered(status, text):
            data = decode_answer(text)
            user = data.get("user")
            if status == 200 and isinstance(user, str):
                self.user = user
                self._sign_ins += 1
                done(user, None)
            elif status == 0 or status >= 500:
                done(None, "The server cannot be reached; try again in a moment.")
            else:
                message = data.get("message")
                done(None, message if isinstance(message, str) else "The server refused this sign-in.")
        self.http.send("POST", SESSION, json.dumps({"user": name}), None, False, answered)

    def sign_out(self):
        """End the profile's session on the server (the page may be unloading: keepalive)."""
        self._give_back()
        self._set_elsewhere(())
        self.http.send("DELETE", SESSION, None, None, True, lambda status, text: None)

    def touch(self):
        """Tell the server this tab was used (the idle deadline is kept by the server's clock)."""
        if self.lease is not None and not self._touching:
            self._touching = True
            self.http.send("POST", ACTIVITY, None, credentials(self.lease), False, self._touched)

    def _touched(self, status, text):
        self._touching = False
        if status == 401:
            self._pushed(json.dumps({"kind": "ended", "reason": reason_of(401, decode_answer(text))}))
        elif status == 409:
            self._pushed('{"kind": "moved"}')
