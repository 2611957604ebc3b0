"""What the demo pages show: one subscriber of tabsession's public API (``tabsession.api``).

It uses nothing of tabsession but the ``Session`` it is given, so it is also a worked example
of the API. Every text goes in through ``textContent`` (never HTML): a user name is shown as
typed. Elements are looked up by id and may be absent on a page; the view then skips them.
"""

import time

from pyscript import document, window
from pyscript.ffi import create_proxy, is_none as _js_is_none

from pages import texts
from pages.notes import NotesPad

LOG_LIMIT = 40  # entries kept in "Events in this tab"
# A tab that leaves the list and is back within this many seconds navigated; it did not close.
NAVIGATION_SECONDS = 2.0
_kept = []  # proxies of event handlers, kept for the page's lifetime (Pyodide collects others)


def is_none(value):
    return value is None or bool(_js_is_none(value))


def by_id(element_id):
    """The element, or None (JS null arrives differently on each interpreter)."""
    element = document.getElementById(element_id)
    return None if is_none(element) else element


def query_one(selector):
    element = document.querySelector(selector)
    return None if is_none(element) else element


def on(element_id, event_type, handler):
    """Call ``handler(event)`` on ``event_type`` at the element with this id, if it exists."""
    element = by_id(element_id)
    if element is None:
        return False
    proxy = create_proxy(handler)
    _kept.append(proxy)
    element.addEventListener(event_type, proxy)
    return True


def set_text(element_id, value):
    element = by_id(element_id)
    if element is not None:
        element.textContent = value


def set_hidden(element_id, hidden):
    element = by_id(element_id)
    if element is not None:
        element.hidden = hidden


def focus(element_id):
    element = by_id(element_id)
    if element is not None:
        element.focus()


_focus_target = [None]  # the id of the element focus_soon moves the focus to
_kept_focus = []  # the one proxy of _focus_pending


def _focus_pending():
    element_id, _focus_target[0] = _focus_target[0], None
    if element_id is not None:
        focus(element_id)


def focus_soon(element_id):
    """Move the focus in a task of its own, just after this one. ``focus()`` makes the browser
    lay out the page at once; done while a change is handled, that cost each tab 8 to 15 ms of
    a sign-out reaching ten tabs (measured: most of a follower's handling), before the tab
    could show its new state."""
    first = _focus_target[0] is None
    _focus_target[0] = element_id
    if first:
        if not _kept_focus:
            _kept_focus.append(create_proxy(_focus_pending))
        window.setTimeout(_kept_focus[0], 0)


def countdown(seconds):
    """0:59, 14:05, 7:59:59."""
    seconds = max(0, int(seconds + 0.999))
    hours = seconds // 3600
    minutes = (seconds % 3600) // 60
    rest = seconds % 60
    if hours:
        return str(hours) + ":" + ("0" + str(minutes))[-2:] + ":" + ("0" + str(rest))[-2:]
    return str(minutes) + ":" + ("0" + str(rest))[-2:]


def duration(seconds):
    """8 hours, 15 minutes, 1 hour 30 minutes, 45 seconds."""
    seconds = int(seconds)
    parts = []
    for size, one, many in ((3600, "hour", "hours"), (60, "minute", "minutes"), (1, "second", "seconds")):
        count = seconds // size
        seconds -= count * size
        if count:
            parts.append(str(count) + " " + (one if count == 1 else many))
    return " ".join(parts[:2]) if parts else "0 seconds"


def ago(seconds):
    seconds = int(max(0, seconds))
    if seconds < 5:
        return texts.JUST_NOW
    if seconds < 60:
        amount = str(seconds) + " s"
    elif seconds < 3600:
        amount = str(seconds // 60) + " min"
    else:
        amount = str(seconds // 3600) + " h"
    return texts.AGO_PREFIX + amount + texts.AGO_SUFFIX


def _local_offset_seconds():
    try:
        return -int(window.Date.new().getTimezoneOffset()) * 60
    except Exception:  # noqa: BLE001 - a clock label is not worth failing for
        return 0


def clock_time(epoch_seconds, offset):
    """HH:MM:SS in local time (epoch milliseconds never cross into Python: docs/rules.md,
    platform facts)."""
    day_seconds = int(epoch_seconds + offset) % 86400
    return ":".join(("0" + str(value))[-2:]
                    for value in (day_seconds // 3600, (day_seconds % 3600) // 60, day_seconds % 60))


def short_id(tab_id):
    return (tab_id or "")[:6]


class TabNumbers:
    """A small number for each tab, in the order the tabs were opened (``Tab.opened``), kept
    for the tab's id once given (a tab that reloads keeps its id, so its number), and when it
    was opened: so every tab of the profile that saw the same tabs names them alike. A tab whose
    opening time is unknown (a record of an older page) counts as opened when first seen, and is
    marked as opened before then."""

    def __init__(self):
        self.numbers = {}  # tab id -> (number, opened: epoch seconds, opened before that time)
        self.next_number = 1

    def see(self, tabs, now):
        new = [tab for tab in tabs if tab.tab_id not in self.numbers]
        new.sort(key=lambda tab: (tab.opened if tab.opened is not None else now, tab.tab_id))
        for tab in new:
            known = tab.opened is not None
            self.numbers[tab.tab_id] = (self.next_number, tab.opened if known else now, not known)
            self.next_number += 1

    def get(self, tab_id):
        """(number, first seen, already open then), or None for a tab never listed."""
        return self.numbers.get(tab_id)


class DemoView:
    """Renders a ``tabsession.api.Session`` into the demo's markup (ids in index.html)."""

    def __init__(self, session):
        self.session = session
        self.offset = _local_offset_seconds()
        self.tab_entries = {}  # tab id -> TabEntry, the items of #tabs
        self.numbers = TabNumbers()  # how tabs are named: "Tab 2, opened 18:57"
        self.tab_order = []  # tab ids in the order #tabs shows them
        self.elsewhere_items = []  # (item, age span, last active) of #tabs-elsewhere
        self.seen_tabs = False
        self.gone = {}  # tab id -> when it left the list (a navigating tab leaves for a moment)
        self.settings_shown = False
        self.notice_words = None  # (title, detail) the notice shows
        # The notes pad: open (editable, with the latest saved text) only while the tab is active.
        self.notes = NotesPad(by_id("notes"), by_id("notes-status"), time.time, texts,
                              lambda seconds: clock_time(seconds, self.offset))
        session.subscribe(self.on_change)
        on("notes", "input", lambda event: self.notes.save())
        on("login-form", "submit", self.on_submit)
        on("use-here", "click", lambda event: session.use_here())
        on("logout", "click", lambda event: session.sign_out())
        on("stay-signed-in", "click", lambda event: session.stay_signed_in())
        on("reload", "click", lambda event: window.location.reload())
        # window.open copies this tab's sessionStorage into the new tab, like the browser's
        # "Duplicate tab"; the "Open another tab" link (rel=noopener) does not.
        on("duplicate-tab", "click", lambda event: window.open(window.location.href))

    # --------------------------------------------------------------- dispatch
    def on_change(self, change):
        kind = change.kind
        if kind == "state":
            self.show_state(change)
        elif kind == "tabs":
            self.show_tabs(change)
        elif kind == "elsewhere":
            self.show_elsewhere(change.elsewhere, time.time())
        elif kind == "clock":
            self.show_clock(time.time())
        elif kind == "warning":
            self.show_warning(change.warning)
        elif kind == "tick":
            self.show_clock(change.now)
            self.show_ages(change.now)
        elif kind == "login-error":
            self.show_login_error(change.message)
        elif kind == "page":
            self.show_page(change.page)
        elif kind == "leaving":
            self.notes.flush()

    # ------------------------------------------------------------------- page
    def show_page(self, page):
        """The tab is now the app page or the sign-in page (in place: no load)."""
        document.title = texts.PAGE_TITLES.get(page, texts.PAGE_TITLES["app"])
        document.documentElement.setAttribute("data-page", page)
        set_hidden("login-error", True)
        if page == "login":
            set_text("user", "")

    # ------------------------------------------------------------------ state
    def show_me(self, status, data):
        if status == 200 and isinstance(data.get("user"), str) and self.session.state == "active":
            set_text("user", data["user"])
            self.notes.open(data["user"])

    def show_state(self, change):
        session = self.session
        state = change.state
        set_hidden("starting", True)
        set_hidden("session-details", False)
        set_hidden("demo", False)
        if state != "active":
            self.notes.close()  # another tab edits now, or no one: nothing stays on screen
        if session.authority == "server":
            if state == "active":
                # The protected data is the server's (S2): the name comes from /api/me, which
                # answers only this tab while it is active (show_me opens the notes then).
                session.fetch("/api/me", self.show_me)
        elif session.user is not None:
            set_text("user", session.user)
            if state == "active":
                self.notes.open(session.user)
        if not self.settings_shown:
            self.settings_shown = True
            self.show_settings()
        title, detail = self.message(state, change.reason)
        self.show_notice(state, title, detail)
        if state == "active":
            self.announce(texts.LOG_STATE["active"])
            if change.previous in ("blocked", "moved"):
                focus("app-title")  # the focused Use here button just disappeared
        else:
            self.announce(title + " " + detail)
        self.show_form(state, change.previous)
        if change.previous == state:  # only session.place_free changed
            self.log(texts.LOG_PLACE_FREE if session.place_free else texts.LOG_PLACE_TAKEN)
        elif state == "error" and change.reason in texts.ERROR_MESSAGES:
            self.log(title)  # "The server cannot be reached."
        elif state == "error":
            self.log(texts.storage_error_log(session.storage_error))  # which failure it was
        else:
            self.log(self.log_line(state, change.reason))

    def message(self, state, reason):
        title, detail = texts.STATE_MESSAGES.get(state, ("", ""))
        if state == "error" and reason in texts.ERROR_MESSAGES:
            title, detail = texts.ERROR_MESSAGES[reason]
        elif state == "error":
            # Which storage failure it was decides what helps (a full area, a blocked one...).
            title, detail = texts.storage_error_message(self.session.storage_error)
        if state == "blocked" and reason == "active-elsewhere":
            title, detail = self.blocked_message(title, detail)
        if state in ("blocked", "moved") and self.session.place_free:
            detail = texts.PLACE_FREE_DETAIL
        if state == "signed-out" and not reason:
            # A first visit: nothing happened to tell about, so say what this is.
            return texts.WELCOME
        settings = self.session.settings
        if state in ("signed-out", "expired") and reason in texts.REASON_TITLES:
            title = texts.REASON_TITLES[reason]
            if reason == "idle":
                title = "You were signed out after " + duration(settings["idle_timeout"]) + \
                    " without activity."
            elif reason == "expired":
                title = "Your session reached its maximum length of " + \
                    duration(settings["absolute_timeout"]) + "."
        return title, detail

    def blocked_message(self, title, detail):
        """A refused tab says where the session is: which of this profile's tabs holds it, or
        that it is in another browser or on another device (the server says so)."""
        names = [self.tab_name(tab.tab_id) for tab in self.session.tabs
                 if tab.state == "active" and not tab.is_self]
        elsewhere = len(self.session.elsewhere)
        if not names and elsewhere:
            detail = texts.BLOCKED_ELSEWHERE_DETAIL
        return texts.blocked_title(names, elsewhere), detail

    def refresh_notice(self):
        """After the tab list or the list elsewhere changed: a refused tab's notice follows
        where the session now is (the words only: the focus stays where the user put it)."""
        session = self.session
        if session.state != "blocked":
            return
        title, detail = self.message(session.state, session.reason)
        if (title, detail) == self.notice_words:
            return
        self.notice_words = (title, detail)
        set_text("notice-title", title)
        set_text("notice-detail", detail)
        self.announce(title + " " + detail)

    def show_notice(self, state, title, detail):
        notice = by_id("notice")
        if notice is None:
            return
        if state not in texts.STATE_MESSAGES:
            notice.hidden = True
            return
        self.notice_words = (title, detail)
        set_text("notice-title", title)
        set_text("notice-detail", detail)
        set_hidden("notice-detail", state == "error")
        set_hidden("use-here", state not in ("blocked", "moved"))
        set_hidden("reload", state != "error")
        set_hidden("error", state != "error")
        if state == "error":
            set_text("error", detail)
        notice.hidden = False
        if state in ("blocked", "moved"):
            focus_soon("use-here")
        elif state == "error":
            focus("reload")

    def log_line(self, state, reason):
        if state in ("signed-out", "expired") and reason in texts.LOG_REASON:
            return texts.LOG_REASON[reason]
        return texts.LOG_STATE.get(state, state)

    def announce(self, words):
        set_text("announce", words)

    # ------------------------------------------------------------------ names
    def tab_name(self, tab_id, is_self=False):
        """How the tab list and the notices name a tab: "This tab", "Tab 2, opened 18:57"."""
        if is_self:
            return texts.THIS_TAB
        known = self.numbers.get(tab_id)
        if known is None:
            return texts.TAB_NAME + short_id(tab_id)
        number, seen, before = known
        return texts.tab_name(number, clock_time(seen, self.offset)[:5], before)

    def log_name(self, tab_id):
        """How the event log names another tab: "Tab 2" (the log's lines carry the time)."""
        known = self.numbers.get(tab_id)
        return texts.TAB_NAME + short_id(tab_id) if known is None else texts.tab_short_name(known[0])

    def tab_title(self, tab_id):
        """The tooltip of an item of the tab list: its number and short id, for the curious."""
        known = self.numbers.get(tab_id)
        words = texts.TAB_ID_TITLE + short_id(tab_id)
        return words if known is None else texts.tab_short_name(known[0]) + " · " + words

    # ------------------------------------------------------------------- tabs
    def show_tabs(self, change):
        now = time.time()
        self.numbers.see(change.tabs, now)
        listing = by_id("tabs")
        if listing is not None:
            self.render_tabs(listing, change.tabs, now)
        self.refresh_notice()
        if not self.seen_tabs:
            self.seen_tabs = True
            if len(change.tabs) > 1:
                self.log(texts.LOG_TABS_AT_START + str(len(change.tabs)) + ".")
            return
        tabs = {}
        for tab in change.tabs:
            tabs[tab.tab_id] = tab
        for tab_id in change.opened:
            tab = tabs[tab_id]
            where = texts.PAGE_LABELS.get(tab.page, "")
            if tab_id in self.gone:
                # Back within moments: the tab navigated (e.g. app page -> sign-in page).
                del self.gone[tab_id]
                words = texts.LOG_TAB_NAVIGATED.replace("{page}", where)
            else:
                words = texts.LOG_TAB_OPENED.replace("{page}", where)
            words = words.replace("{state}", texts.STATE_LABELS.get(tab.state, tab.state))
            self.log(self.log_name(tab_id) + " " + words)
        for tab_id in change.closed:
            self.gone[tab_id] = now  # logged as closed unless it comes back (see show_ages)
        for tab in change.changed:
            if tab.is_self:
                continue  # the state change itself is logged already
            before = texts.STATE_LABELS.get(change.previous_states.get(tab.tab_id), "")
            after = texts.STATE_LABELS.get(tab.state, tab.state)
            self.log(self.log_name(tab.tab_id) + ": "
                     + texts.LOG_TAB_CHANGED.replace("{before}", before).replace("{after}", after))

    def log_closed_tabs(self, now):
        for tab_id in list(self.gone):
            if now - self.gone[tab_id] >= NAVIGATION_SECONDS:
                del self.gone[tab_id]
                self.log(self.log_name(tab_id) + " " + texts.LOG_TAB_CLOSED)

    def render_tabs(self, listing, tabs, now):
        """Bring ``#tabs`` up to date, touching only what changed.

        Every change anywhere (another tab's activity moves its "last active") sends the whole
        list, to every tab at once; rebuilding every item from scratch cost each tab some
        hundred calls into the DOM per change, on the CPU that other tabs needed to react
        (issue 8). Items are kept by tab id and only their changed parts are written.
        """
        entries = {}
        order = []
        rebuilt = False
        for tab in tabs:
            entry = self.tab_entries.get(tab.tab_id)
            if entry is None or entry.is_self != tab.is_self or entry.page != tab.page:
                entry = TabEntry(self, tab, now)
                rebuilt = True
            else:
                entry.update(tab, now)
            entries[tab.tab_id] = entry
            order.append(tab.tab_id)
        if rebuilt or order != self.tab_order:
            listing.textContent = ""
            for tab_id in order:
                listing.appendChild(entries[tab_id].item)
            set_text("tab-count", str(len(order)))
        self.tab_entries = entries
        self.tab_order = order

    def span(self, class_name, words):
        element = document.createElement("span")
        element.className = class_name
        element.textContent = words
        return element

    def show_elsewhere(self, elsewhere, now):
        """``#tabs-elsewhere``: the user's active tabs in other profiles (the server tells only
        when each was last used), one ``li[data-elsewhere]`` each; ``#tabs`` stays this
        profile's own (rule 9)."""
        self.refresh_notice()
        listing = by_id("tabs-elsewhere")
        if listing is None:
            return
        if len(elsewhere) != len(self.elsewhere_items):
            self.log(texts.LOG_ELSEWHERE.replace("{count}", str(len(elsewhere))))
        listing.textContent = ""
        self.elsewhere_items = []
        for tab in elsewhere:
            item = document.createElement("li")
            item.setAttribute("data-elsewhere", "")
            item.setAttribute("data-state", "active")
            item.appendChild(self.span("tab-name elsewhere-name", texts.ELSEWHERE_NAME))
            item.appendChild(self.span("badge", texts.STATE_LABELS.get("active", "active")))
            age = self.span("tab-seen", "")
            item.appendChild(age)
            listing.appendChild(item)
            self.elsewhere_items.append((age, tab.last_active))
        self.show_elsewhere_ages(now)
        set_text("elsewhere-count", str(len(elsewhere)))
        set_hidden("elsewhere", not elsewhere)

    def show_elsewhere_ages(self, now):
        for age, last_active in self.elsewhere_items:
            age.textContent = ago(now - last_active)

    def show_ages(self, now):
        for tab_id in self.tab_order:
            self.tab_entries[tab_id].show_age(now)
        self.show_elsewhere_ages(now)
        self.log_closed_tabs(now)

    # ------------------------------------------------------------------ clock
    def show_clock(self, now):
        session = self.session
        if session.idle_deadline is None or session.state != "active":
            return
        set_text("idle-left", countdown(session.idle_deadline - now))
        set_text("absolute-left", countdown(session.absolute_deadline - now))
        set_text("warning-left", countdown(session.idle_deadline - now))

    def show_warning(self, warning):
        set_hidden("idle-warning", not warning)
        if warning:
            self.show_clock(time.time())
            self.announce(texts.WARNING_ANNOUNCEMENT)
            self.log(texts.LOG_WARNING_ON)
            if self.session.state == "active":
                focus("stay-signed-in")
        else:
            self.announce(texts.LOG_WARNING_OFF)
            self.log(texts.LOG_WARNING_OFF)

    # ------------------------------------------------------------- sign-in
    def on_submit(self, event):
        event.preventDefault()
        field = query_one("#login-form input[name=username]")
        self.session.sign_in(str(field.value) if field is not None else "")

    def show_form(self, state, previous):
        """The sign-in form is offered while signed out (on the sign-in page) and only then."""
        offered = state in ("signed-out", "expired") and self.session.page == "login"
        set_hidden("login-form", not offered)
        button = query_one("#login-form button[type=submit]")
        if button is not None:
            button.disabled = not offered
        if offered and previous != state:
            focus_soon("username")

    def show_login_error(self, message):
        element = by_id("login-error")
        if element is not None:
            element.textContent = message
            element.hidden = False
        field = query_one("#login-form input[name=username]")
        if field is not None:
            field.setAttribute("aria-invalid", "true")
            field.focus()
        self.log(texts.LOG_LOGIN_ERROR + message)

    # --------------------------------------------------------------- settings
    def show_settings(self):
        settings = self.session.settings
        set_text("setting-runtime", texts.RUNTIME_TEXT.get(self.session.runtime, self.session.runtime))
        set_text("setting-policy", texts.POLICY_TEXT.get(settings["policy"], settings["policy"]))
        limit = settings["max_tabs"]
        set_text("setting-limit", texts.NO_LIMIT if limit == 0 else
                 (texts.ONE_TAB if limit == 1 else str(limit) + texts.TABS_SUFFIX))
        set_text("setting-idle", duration(settings["idle_timeout"]))
        set_text("setting-warn", duration(settings["warn_before"]) + texts.WARN_SUFFIX)
        set_text("setting-absolute", duration(settings["absolute_timeout"]))
        coordination = self.session.coordination or "none"
        words = [texts.COORDINATION_TEXT.get(part, part) for part in coordination.split("+")]
        set_text("setting-coordination", " + ".join(words))

    # -------------------------------------------------------------------- log
    def log(self, words):
        listing = by_id("event-log")
        if listing is None or not words:
            return
        now = time.time()
        item = document.createElement("li")
        stamp = document.createElement("time")
        stamp.textContent = clock_time(now, self.offset)
        item.appendChild(stamp)
        item.appendChild(self.span("log-text", words))
        listing.insertBefore(item, listing.firstChild)
        while listing.children.length > LOG_LIMIT:
            listing.removeChild(listing.lastChild)


class TabEntry:
    """One ``li`` of ``#tabs`` and what it shows, so an update writes only what changed."""

    def __init__(self, view, tab, now):
        self.is_self = tab.is_self
        self.page = tab.page
        self.state = tab.state
        self.last_active = tab.last_active
        item = document.createElement("li")
        item.setAttribute("data-tab-id", tab.tab_id)
        item.setAttribute("data-state", tab.state)
        item.setAttribute("title", view.tab_title(tab.tab_id))
        if tab.is_self:
            item.setAttribute("aria-current", "true")
        item.appendChild(view.span("tab-name", view.tab_name(tab.tab_id, tab.is_self)))
        self.badge = view.span("badge", texts.STATE_LABELS.get(tab.state, tab.state))
        item.appendChild(self.badge)
        item.appendChild(view.span("tab-page", texts.PAGE_LABELS.get(tab.page, "")))
        self.age = self.age_text(now)
        self.seen = view.span("tab-seen", self.age)
        item.appendChild(self.seen)
        self.item = item

    def age_text(self, now):
        return ago(now - self.last_active) if self.last_active else ""

    def update(self, tab, now):
        if tab.state != self.state:
            self.state = tab.state
            self.item.setAttribute("data-state", tab.state)
            self.badge.textContent = texts.STATE_LABELS.get(tab.state, tab.state)
        if tab.last_active != self.last_active:
            self.last_active = tab.last_active
            self.show_age(now)

    def show_age(self, now):
        text = self.age_text(now)
        if text != self.age:
            self.age = text
            self.seen.textContent = text
