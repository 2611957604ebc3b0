"""Small helpers the end-to-end tests share for reading and driving a tab.

A plain module (the test files import it by name, as pytest puts this folder on sys.path);
fixtures live in conftest.py (`wait_state`, `wait_booted`, `new_tab` and `crash_tab` give the
functions of the same names).
"""

from playwright.sync_api import Error as PlaywrightError

from app_servers import BOOT_TIMEOUT_MS

SIGN_IN_TIMEOUT_MS = 20_000


def html_data(page):
    """The `data-*` attributes of `<html>` as a dict (tabState, reason, tabId, runtime, ...)."""
    return page.evaluate("() => Object.assign({}, document.documentElement.dataset)")


def state_of(page):
    return page.evaluate("() => document.documentElement.dataset.tabState")


def tab_id_of(page):
    return page.evaluate("() => document.documentElement.dataset.tabId")


def path_of(page):
    """The page's path and query, e.g. "/login?reason=signed-out"."""
    return page.evaluate("() => location.pathname + location.search")


def sign_in(page, name="alice", timeout_ms=SIGN_IN_TIMEOUT_MS):
    """From a signed-out login page, sign in as `name` and wait until the tab is active."""
    page.fill("#login-form input[name=username]", name)
    page.click("#login-form button[type=submit]")
    return wait_state(page, "active", timeout_ms)  # says where the tab stopped, if it does


# --- waiting for a tab's state, opening and crashing tabs -----------------------------------


def _describe(page):
    try:
        info = page.evaluate(
            "() => { const d = document.documentElement.dataset;"
            " return `state=${d.tabState} reason=${d.reason} runtime=${d.runtime}`; }"
        )
    except PlaywrightError as error:
        info = f"(could not read: {error.message.splitlines()[0]})"
    return f"{page.url} {info}"


def wait_state(page, state, timeout_ms=None):
    """Wait until <html data-tab-state> is `state` (survives navigations); AssertionError if not."""
    timeout_ms = BOOT_TIMEOUT_MS["pyodide"] if timeout_ms is None else timeout_ms
    try:
        page.locator(f'html[data-tab-state="{state}"]').wait_for(state="attached", timeout=timeout_ms)
    except PlaywrightError:
        raise AssertionError(
            f"data-tab-state did not become {state!r} within {timeout_ms} ms: {_describe(page)}"
        ) from None
    return page


def wait_booted(page, timeout_ms=None):
    """Wait until <html data-tab-state> exists and is no longer `booting`; returns the state."""
    timeout_ms = BOOT_TIMEOUT_MS["pyodide"] if timeout_ms is None else timeout_ms
    selector = 'html[data-tab-state]:not([data-tab-state="booting"])'
    try:
        page.locator(selector).wait_for(state="attached", timeout=timeout_ms)
        return page.evaluate("() => document.documentElement.dataset.tabState")
    except PlaywrightError:
        raise AssertionError(f"the tab was still booting after {timeout_ms} ms: {_describe(page)}") from None


def new_tab(context, server, path="/"):
    """Open `path` of `server` in a new page of `context` and wait until it has booted."""
    page = context.new_page()
    # To the commit only: a tab that decides fast may navigate on (to /login) before its `load`
    # event, which Firefox reports as an aborted goto. wait_booted follows navigations.
    response = page.goto(server(path), wait_until="commit")
    assert response is not None and response.ok, f"GET {server(path)} answered {response and response.status}"
    wait_booted(page, server.boot_timeout_ms)
    return page


def crash_tab(page):
    """Crash the renderer of `page`, as a killed tab process would, and wait until it has.

    CDP's `Page.crash` never answers, and the sync API would wait for that answer forever, so
    the command is sent without waiting (through the async object behind the sync one).
    """
    session = page.context.new_cdp_session(page)
    sending = page._loop.create_task(session._impl_obj.send("Page.crash", None))
    sending.add_done_callback(lambda task: task.cancelled() or task.exception())  # no "never retrieved"
    page.wait_for_event("crash", timeout=10_000)
