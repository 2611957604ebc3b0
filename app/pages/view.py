"""Renders core commands into the page. Shared by the app and login pages.

Every text goes in through ``textContent`` (never HTML): a user name is shown as typed.
Elements are looked up by id and may be absent on a page; the view then skips them.
"""

import time

from pyscript import document

from pages import texts
from tabsession.browser.interop import is_none, listen

HIDDEN_UNLESS_ACTIVE = "app"


def by_id(element_id):
    """The element, or None (JS null arrives differently on each interpreter)."""
    element = document.getElementById(element_id)
    return None if is_none(element) else element


def query_one(selector):
    element = document.querySelector(selector)
    return None if is_none(element) else element


def _set_text(element_id, value):
    element = by_id(element_id)
    if element is not None:
        element.textContent = value


def _set_hidden(element_id, hidden):
    element = by_id(element_id)
    if element is not None:
        element.hidden = hidden


def _format_seconds(seconds):
    seconds = max(0, int(seconds + 0.999))
    hours = seconds // 3600
    minutes = (seconds % 3600) // 60
    rest = seconds % 60
    if hours:
        return str(hours) + ":" + ("0" + str(minutes))[-2:] + ":" + ("0" + str(rest))[-2:]
    return str(minutes) + ":" + ("0" + str(rest))[-2:]


class PageView:
    def __init__(self):
        self.driver = None
        self.state = "booting"
        self.clock = None

    def bind(self, driver):
        self.driver = driver
        self._on_click("use-here", lambda event: driver.use_here())
        self._on_click("logout", lambda event: driver.logout())
        self._on_click("stay-signed-in", lambda event: driver.stay_signed_in())

    def _on_click(self, element_id, handler):
        listen(element_id, "click", handler)

    # ------------------------------------------------------------ core commands
    def show(self, command):
        root = document.documentElement
        self.state = command.state
        root.setAttribute("data-tab-state", command.state)
        if command.reason:
            root.setAttribute("data-reason", command.reason)
        else:
            root.removeAttribute("data-reason")
        root.setAttribute("data-tab-id", command.tab_id or "")
        _set_hidden("starting", True)
        _set_hidden(HIDDEN_UNLESS_ACTIVE, command.state != "active")
        if command.user is not None:
            _set_text("user", command.user)
        self._show_notice(command.state, command.reason)

    def _show_notice(self, state, reason):
        notice = by_id("notice")
        if notice is None:
            return
        message = texts.STATE_MESSAGES.get(state)
        if message is None:
            notice.hidden = True
            return
        title, detail = message
        if reason in texts.REASON_MESSAGES and state in ("signed-out", "expired"):
            title = texts.REASON_MESSAGES[reason]
        _set_text("notice-title", title)
        _set_text("notice-detail", detail)
        notice.hidden = False
        use_here = by_id("use-here")
        if use_here is not None:
            use_here.hidden = state not in ("blocked", "moved")
            if not use_here.hidden:
                use_here.focus()
        error = by_id("error")
        if error is not None:
            error.hidden = state != "error"
            if state == "error":
                error.textContent = title + " " + detail
        _set_text("announce", title)

    def show_tabs(self, tabs):
        listing = by_id("tabs")
        if listing is None:
            return
        listing.textContent = ""
        for tab in tabs:
            item = document.createElement("li")
            item.setAttribute("data-tab-id", tab.tab_id)
            item.setAttribute("data-state", tab.state)
            label = texts.STATE_LABELS.get(tab.state, tab.state)
            words = tab.tab_id[:6] + " · " + texts.PAGE_LABELS.get(tab.page, "") + " · " + label
            if tab.is_self:
                item.setAttribute("aria-current", "true")
                words = words + " · " + texts.THIS_TAB
            item.textContent = words
            listing.appendChild(item)
        _set_text("tab-count", str(len(tabs)))

    def show_clock(self, clock):
        self.clock = clock
        _set_hidden("idle-warning", not clock.warning)
        self.tick(time.time())

    def tick(self, now):
        if self.clock is None:
            return
        _set_text("idle-left", _format_seconds(self.clock.idle_deadline - now))
        _set_text("absolute-left", _format_seconds(self.clock.absolute_deadline - now))
        _set_text("warning-left", _format_seconds(self.clock.idle_deadline - now))

    def show_login_error(self, message):
        element = by_id("login-error")
        if element is not None:
            element.textContent = message
            element.hidden = False
        field = query_one("#login-form input[name=username]")
        if field is not None:
            field.setAttribute("aria-invalid", "true")
            field.focus()

    def leaving(self):
        """The page is going away: hide the protected content before any snapshot is taken."""
        _set_hidden(HIDDEN_UNLESS_ACTIVE, True)
