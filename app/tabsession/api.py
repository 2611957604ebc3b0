"""The public face of tabsession: one ``Session`` per page, usable from any PyScript page.

    import tabsession

    session = tabsession.create("app", max_tabs=1, policy="block")
    session.subscribe(lambda change: print(change.kind, session.state))
    session.start()

This module owns what a page sees of the library: the settings a page starts with, the
latest state for readers (``session.state``, ``session.tabs``, ...), the attributes on
``<html>`` (``data-tab-state``, ``data-reason``, ``data-tab-id``), keeping the protected
element hidden unless the tab is active, and telling subscribers what changed. It decides
nothing (the core does) and carries nothing out (the driver does): it is the view object the
driver talks to, built by composition, so the driver and the core do not know it exists.

It must not import ``pages`` (the demo is a user of this module, not the other way round).
The same code runs on MicroPython and Pyodide: no dataclasses, enums or typing.
"""

from tabsession.browser import compose as _compose
from tabsession.browser.interop import RUNTIME, document, is_none, window
from tabsession.core import records
from tabsession.core.settings import Settings
from tabsession.core.values import Value

PAGES = ("app", "login")
BOTH = "both"  # one document that shows either page: the tab goes between them in place
STATES = records.STATES  # the words of data-tab-state
REASONS = records.REASONS  # the words of data-reason

# The kinds of ``Change`` a subscriber receives (see ``Change``).
STATE = "state"
TABS = "tabs"
ELSEWHERE = "elsewhere"
CLOCK = "clock"
WARNING = "warning"
TICK = "tick"
LOGIN_ERROR = "login-error"
PAGE = "page"
LEAVING = "leaving"
KINDS = (STATE, TABS, ELSEWHERE, CLOCK, WARNING, TICK, LOGIN_ERROR, PAGE, LEAVING)


class Tab(Value):
    """One open tab of this browser profile, as ``session.tabs`` lists it.

    ``state`` uses the words of ``data-tab-state``; ``page`` is "app" or "login";
    ``last_active`` is seconds since the epoch (compare with ``time.time()``); ``is_self``
    marks this tab; ``opened``: when the tab's page started (epoch seconds; a reload starts
    it again), None when not known.
    """

    FIELDS = ("tab_id", "state", "page", "last_active", "is_self", "opened")
    DEFAULTS = {"opened": None}


class TabElsewhere(Value):
    """One of the user's active tabs in another browser profile or device, as
    ``session.elsewhere`` lists it (only with the server as the authority, which tells no more
    about it): ``last_active`` is when it was last used, seconds since the epoch by the
    server's clock."""

    FIELDS = ("last_active",)


class Change:
    """What a subscriber is told. ``kind`` says what happened; the other attributes by kind:

    - ``"state"``: ``state``, ``reason``, ``previous`` (the state before); also when only
      ``session.place_free`` changed (``previous`` then equals ``state``).
    - ``"tabs"``: ``tabs`` (the whole list), ``opened`` and ``closed`` (tab ids),
      ``changed`` (``Tab`` objects whose state changed; ``previous_states`` maps their ids to
      the old state).
    - ``"elsewhere"``: ``elsewhere`` (the whole list of ``TabElsewhere``).
    - ``"clock"``: ``idle_deadline``, ``absolute_deadline`` (epoch seconds), ``warning``.
    - ``"warning"``: ``warning`` (True: the idle warning is now due; False: it was dismissed).
    - ``"tick"``: ``now``; about once a second while the page runs, for countdowns.
    - ``"login-error"``: ``message`` (why a sign-in was refused; show it as text).
    - ``"page"``: ``page`` ("app" or "login"), ``previous``: a page created with "both" is now
      the other page, in place (the address bar already says so). Comes before the ``"state"``
      change that goes with it.
    - ``"leaving"``: the page is navigating away or being hidden.

    ``session`` is the ``Session`` it came from, so one callback can serve several sessions.
    """

    def __init__(self, kind, session, **fields):
        self.kind = kind
        self.session = session
        for name in fields:
            setattr(self, name, fields[name])

    def __repr__(self):
        return "Change(" + repr(self.kind) + ")"


class Session:
    """Tab-level session control for one page. Build it with ``create``.

    Read (always current): ``state``, ``reason``, ``tab_id``, ``user``, ``place_free`` (in a
    blocked or moved tab: a place is free, so ``use_here()`` displaces no one),
    ``storage_error`` (in the error state with reason ``storage-unavailable``: the name of the
    error storage threw, ``QuotaExceededError``, ``SecurityError``, ...; else None), ``tabs``,
    ``elsewhere`` (with the server as the authority: the user's active tabs in other profiles),
    ``idle_deadline``, ``absolute_deadline``, ``warning``, ``settings`` (a dict),
    ``runtime``, ``coordination``, ``problems``, ``started``, ``page`` ("app" or "login"; with
    ``create("both")`` it changes in place, and ``in_place`` is True).
    Act: ``start()``, ``subscribe(callback)``, ``sign_in(name)``, ``sign_out()``,
    ``use_here()``, ``stay_signed_in()``, ``fetch(path, done)``.
    With the server as the authority: ``authority``, ``credentials``.
    """

    def __init__(self, page, settings, protect):
        if page not in PAGES and page != BOTH:
            raise ValueError("page must be 'app', 'login' or 'both', not " + repr(page))
        # With "both", the page is the one the address names until the tab moves (start()).
        self.in_place = page == BOTH
        self.page = None if self.in_place else page
        self._settings = settings
        self.protect = protect
        self.runtime = RUNTIME
        self.problems = list(settings.problems)
        self.state = "booting"
        self.reason = None
        self.tab_id = None
        self.user = None
        self.tabs = []
        self.elsewhere = []
        self.idle_deadline = None
        self.absolute_deadline = None
        self.warning = False
        self.place_free = False
        self.storage_error = None
        self.login_error = None
        self.started = False
        self._driver = None
        self._coordination = None
        self._force = (None, None)  # forced lock and wake-up mechanisms (create's arguments)
        self._subscribers = []

    # ----------------------------------------------------------------- reading
    @property
    def settings(self):
        """The settings in force, as a dict (``runtime``, ``max_tabs``, ``policy``, ...)."""
        return self._settings.to_dict()

    @property
    def coordination(self):
        """How tabs coordinate: "web-locks+broadcast-channel", "storage+storage-events", ...;
        "none" when storage is unusable, None before ``start()``."""
        return self._coordination

    def is_active(self):
        return self.state == "active"

    # ----------------------------------------------------------------- acting
    def subscribe(self, callback):
        """Call ``callback(change)`` after every change (see ``Change``); returns a function
        that unsubscribes. Subscribe before ``start()`` to see the first state."""
        self._subscribers.append(callback)

        def unsubscribe():
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def start(self):
        """Decide this tab's state and keep deciding as things change. Call once per page."""
        if self.started:
            raise RuntimeError("start() was already called")
        self.started = True
        self._protect(True)  # until this tab is known to be active, whatever the page's markup said
        locks, wakeups = self._force
        if self.in_place:
            self.page = _compose.page_at(self._settings)
            self._emit(PAGE, page=self.page, previous=None)
        self._driver = _compose.start(self.page, _DriverView(self), self._settings, locks, wakeups,
                                      self.in_place)
        return self

    def sign_in(self, name):
        """On the login page: sign in as ``name`` (1-64 characters once trimmed) and go on to
        the page the user wanted; otherwise a ``"login-error"`` change says why not."""
        self._need_driver().sign_in(name if isinstance(name, str) else "")

    def sign_out(self):
        """End the session in every tab of this profile (each lands on the login page)."""
        self._need_driver().sign_out()

    def use_here(self):
        """In a blocked or moved tab: continue here; the least recently active tab moves out.

        The place passes at once (this tab shows ``active`` only once it holds it); the tab
        moved out shows ``moved`` once it is told, within 1 s (rule 4 in docs/rules.md), so for
        that moment one page too many may still say ``active``."""
        self._need_driver().use_here()

    def stay_signed_in(self):
        """Restart the idle time in every tab (what the idle warning's button does)."""
        self._need_driver().stay_signed_in()

    # ------------------------------------------------ the server, when it decides
    @property
    def authority(self):
        """Who decides: "server" (the page's server keeps sessions and places) or "browser"."""
        return self._settings.authority

    @property
    def credentials(self):
        """With the server as the authority, the value of the ``X-Tabsession-Tab`` header that
        makes a request this active tab's (None while the tab holds no place). Your own routes
        check it with ``TabsessionAPI.require_tab``; ``fetch`` sends it for you."""
        server = None if self._driver is None else self._driver.server
        return None if server is None else server.credentials()

    def fetch(self, path, done, method="GET", body=None):
        """Send a request to this page's own server as this tab: ``done(status, data)`` with the
        answer's JSON object ({} when it is not one; status 0 when no answer came). With the
        server as the authority the tab's credentials go with it, so ``/api/me`` and your own
        protected routes answer only while this tab is active (S2)."""
        self._need_driver().request(method, path, body, done)

    def _need_driver(self):
        if self._driver is None:
            raise RuntimeError("call start() first")
        return self._driver

    # ------------------------------------------------ what the driver tells us
    def _emit(self, kind, **fields):
        change = Change(kind, self, **fields)
        for callback in list(self._subscribers):
            try:
                callback(change)
            except Exception as error:  # noqa: BLE001 - one subscriber must not stop the session
                # Loud (a console error fails the project's tests) but not fatal: the driver
                # is in the middle of carrying out commands (a navigation may follow).
                window.console.error("tabsession: a subscriber failed on " + kind + ": "
                                     + type(error).__name__ + ": " + str(error))

    def _show(self, command):
        previous = self.state
        changed = (command.state, command.reason, command.tab_id, command.user, command.place_free) != \
            (self.state, self.reason, self.tab_id, self.user, self.place_free)
        self.place_free = bool(command.place_free)
        self.storage_error = command.storage_error
        self.state = command.state
        self.reason = command.reason
        self.tab_id = command.tab_id or None
        if command.user is not None:
            self.user = command.user
        root = document.documentElement
        root.setAttribute("data-tab-state", command.state)
        if command.reason:
            root.setAttribute("data-reason", command.reason)
        else:
            root.removeAttribute("data-reason")
        root.setAttribute("data-tab-id", command.tab_id or "")
        root.setAttribute("data-authority", self._settings.authority)
        if self.place_free:
            root.setAttribute("data-place-free", "")
        else:
            root.removeAttribute("data-place-free")
        if self.storage_error:  # which storage failure (rule 11), for pages and tests to tell
            root.setAttribute("data-storage-error", self.storage_error)
        else:
            root.removeAttribute("data-storage-error")
        self._protect(command.state != "active")
        if changed:
            self._emit(STATE, state=self.state, reason=self.reason, previous=previous)

    def _show_tabs(self, views):
        before = {}
        for tab in self.tabs:
            before[tab.tab_id] = tab.state
        tabs = [Tab(view.tab_id, view.state, view.page, view.last_active, view.is_self, view.opened)
                for view in views]
        opened = [tab.tab_id for tab in tabs if tab.tab_id not in before]
        present = [tab.tab_id for tab in tabs]
        closed = [tab_id for tab_id in before if tab_id not in present]
        changed = [tab for tab in tabs if tab.tab_id in before and before[tab.tab_id] != tab.state]
        previous_states = {}
        for tab in changed:
            previous_states[tab.tab_id] = before[tab.tab_id]
        self.tabs = tabs
        self._emit(TABS, tabs=tabs, opened=opened, closed=closed, changed=changed,
                   previous_states=previous_states)

    def _show_elsewhere(self, entries):
        self.elsewhere = [TabElsewhere(last_active) for last_active in entries]
        self._emit(ELSEWHERE, elsewhere=self.elsewhere)

    def _show_clock(self, clock):
        was_warning = self.warning
        self.idle_deadline = clock.idle_deadline
        self.absolute_deadline = clock.absolute_deadline
        self.warning = bool(clock.warning)
        self._emit(CLOCK, idle_deadline=self.idle_deadline,
                   absolute_deadline=self.absolute_deadline, warning=self.warning)
        if self.warning != was_warning:
            self._emit(WARNING, warning=self.warning)

    def _show_page(self, page):
        previous = self.page
        self.page = page
        self._emit(PAGE, page=page, previous=previous)

    def _show_login_error(self, message):
        self.login_error = message
        self._emit(LOGIN_ERROR, message=message)

    def _show_runtime(self, runtime):
        document.documentElement.setAttribute("data-runtime", runtime)

    def _show_coordination(self, coordination):
        self._coordination = coordination
        document.documentElement.setAttribute("data-coordination", coordination)

    def _show_dropped(self, count):
        document.documentElement.setAttribute("data-dropped-messages", str(count))

    def _leaving(self):
        self._protect(True)
        self._emit(LEAVING)

    def _tick(self, now):
        self._emit(TICK, now=now)

    def _protect(self, hidden):
        """Hide or show the protected element. ``hidden`` alone loses to any stylesheet rule that
        gives the element a display, so the library also sets an inline ``display: none
        !important`` (which beats every author rule, and which a Content-Security-Policy allows:
        it is set through the CSSOM, not written in the markup). A page needs no rule of its own;
        it should still write ``hidden`` on the element, which covers the moment before Python
        has booted."""
        if not self.protect:
            return
        element = document.getElementById(self.protect)
        if is_none(element):
            return
        element.hidden = hidden
        if hidden:
            element.style.setProperty("display", "none", "important")
        else:
            element.style.removeProperty("display")


class _DriverView:
    """The view protocol the driver calls (bind, show, show_tabs, ...), forwarded to a Session.

    Kept apart so that these names do not become part of the public API.
    """

    def __init__(self, session):
        self.session = session
        self.driver = None

    def bind(self, driver):
        self.driver = driver

    def show_runtime(self, runtime):
        self.session._show_runtime(runtime)

    def show_coordination(self, coordination):
        self.session._show_coordination(coordination)

    def show_dropped(self, count):
        self.session._show_dropped(count)

    def show(self, command):
        self.session._show(command)

    def show_tabs(self, tabs):
        self.session._show_tabs(tabs)

    def show_elsewhere(self, entries):
        self.session._show_elsewhere(entries)

    def show_clock(self, clock):
        self.session._show_clock(clock)

    def show_login_error(self, message):
        self.session._show_login_error(message)

    def show_page(self, page):
        self.session._show_page(page)

    def leaving(self):
        self.session._leaving()

    def tick(self, now):
        self.session._tick(now)


def page_settings():
    """The settings a server embedded in the page (``<script type="application/json"
    id="tabsession-settings">``), or the defaults. Bad values fall back to defaults and are
    listed in ``problems``, never raised: the page is not trusted."""
    return _compose.read_settings()


def create(page="app", protect="app", locks=None, wakeups=None, **settings):
    """A ``Session`` for this page; nothing happens until ``start()``.

    ``page``: "app" for a protected page, at any path of the site (signed out, it sends the
    user to ``/login?next=`` that path, and the sign-in returns there; a sign-in page reached
    without ``next`` returns to ``/``), "login" for the sign-in page (at ``login_path``), or
    "both" for one document that holds the sign-in form and the protected content, served at
    ``/`` and at ``login_path``: the tab then goes between the two in place (the History API
    changes the address, Python boots once per tab), and ``session.page`` says which it is
    (a ``"page"`` change tells). A ``next`` path the document does not show (neither ``/`` nor
    the path it was opened at) is still loaded.
    ``protect``: the id of the element that holds the protected content; it is hidden unless
    the tab is active (None: hide nothing).
    ``settings``: ``max_tabs``, ``policy``, ``idle_timeout``, ``warn_before``,
    ``absolute_timeout``, ``authority``, ``login_path`` (see the README); they override what the
    page embeds. ``login_path`` is where the sign-in page is: ``/login`` (the default, as
    serve.py serves it), or ``/login.html`` or ``/login/`` on a plain static server; give every
    page of the site the same one. A bad value raises ``ValueError`` (your code's mistake), an
    unknown name ``TypeError``.
    ``locks`` ("web-locks" or "storage") and ``wakeups`` ("broadcast-channel" or
    "storage-events") force a coordination mechanism instead of the best the browser has (to try
    the fallbacks); one the browser lacks is not used. ``session.coordination`` says what runs.
    """
    if locks is not None and locks not in _compose.LOCK_MODES:
        raise ValueError("locks must be one of " + repr(_compose.LOCK_MODES))
    if wakeups is not None and wakeups not in _compose.MECHANISMS:
        raise ValueError("wakeups must be one of " + repr(_compose.MECHANISMS))
    base = page_settings()
    chosen = base.to_dict()
    for name in settings:
        if name not in Settings.FIELDS or name == "runtime":
            raise TypeError("unknown setting " + repr(name))
        chosen[name] = settings[name]
    chosen["runtime"] = RUNTIME  # what actually runs, whatever the page said
    final = Settings(**chosen)
    final.problems = list(base.problems)
    session = Session(page, final, protect)
    session._force = (locks, wakeups)
    return session

