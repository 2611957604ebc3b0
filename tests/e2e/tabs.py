"""Small helpers the end-to-end tests share for reading and driving a tab.

A plain module (the test files import it by name, as pytest puts this folder on sys.path);
fixtures live in conftest.py.
"""

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
    page.locator('html[data-tab-state="active"]').wait_for(state="attached", timeout=timeout_ms)
    return page
