"""The README's "With your own server" example, run as written, on both runtimes.

examples/server/ is a user's own Starlette app (app.py) that mounts tabsession's server side at
/api, has one protected route of its own (/data/notes) and serves its pages, pyscript.toml, the
library's browser files and the runtimes. The README shows its files verbatim: the first tests
check that. The app is started as a user starts it, `app.py --port 0`, through
tests/support/live_server.py, once per test session, and stopped at the end.

Browser profiles are browser contexts (each has its own cookies and storage), watched as every
context of this suite is, with the example's origin as the only local one. For Pyodide, this
context's requests for `/`, `/login` and `/pyscript.toml` get the app's own answers with the two
changes the README tells a Pyodide user to make (as test_library_example.py does): the page's
`<script type="mpy">` becomes `type="py"`, and the interpreter line names Pyodide. Chromium
counts a routed page as public, so those contexts get the `local-network-access` permission that
a page served by 127.0.0.1 itself needs none of (see `profiles`).
"""

import importlib.util
import json
import re
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import live_server  # tests/support/
import pytest
from app_servers import BOOT_TIMEOUT_MS
from browser_watch import watch_context
from tabs import state_of, wait_booted, wait_state

# Pyodide twins on Chromium only, as in the other feature files (CI time).
pytestmark = pytest.mark.pyodide_engines("chromium")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "server"
LIBRARY = ROOT / "app" / "tabsession"
README = ROOT / "README.md"
SECTION = "### With your own server (Starlette or FastAPI)"
# The marker convention of test_library_example.py (which this file must not import: pytest would
# collect its tests here again).
EXAMPLE_MARKER = re.compile(r"<!-- example: (\S+) -->\n```[a-z]*\n(.*?)\n```", re.DOTALL)
WITHIN_MS = 2000  # S3: a displaced tab notices within 2 s

# What the example's pages say (their MESSAGES) and what its notes route answers.
SIGN_IN = "Please sign in."
BLOCKED = "You already have an active session in another tab or browser."
MOVED = "This session is now in use in another tab or browser."


def load_serve_module():
    spec = importlib.util.spec_from_file_location("serve_for_server_example", ROOT / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve_module = load_serve_module()


# --- the README, the files and the app agree, without a browser --------------------------------


def test_readme_section_shows_the_example_files_verbatim():
    """The new README section, before "## Benchmark", holds each example file exactly."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    section = text[start:text.index("\n## ", start)]
    blocks = dict(EXAMPLE_MARKER.findall(section))

    assert text.index("## Use it in your own PyScript app") < start < text.index("## Benchmark")
    assert {"examples/server/app.py", "examples/server/index.html", "examples/server/login.html"} == set(blocks)
    for path, block in blocks.items():
        assert (ROOT / path).read_text(encoding="utf-8").rstrip("\n") == block, path


def test_config_maps_every_browser_module_and_none_of_the_server_side():
    """What the README says of examples/server/pyscript.toml: every module of app/tabsession/
    except its server/ folder, each at its own path (app.py serves exactly these)."""
    files = tomllib.loads((EXAMPLE / "pyscript.toml").read_text(encoding="utf-8"))["files"]
    browser_modules = {"./" + path.relative_to(LIBRARY.parent).as_posix() for path in LIBRARY.rglob("*.py")
                       if "__pycache__" not in path.parts and path.relative_to(LIBRARY).parts[0] != "server"}

    assert browser_modules == set(files)
    assert all(source == target for source, target in files.items())


def get(url):
    """(status, headers, body) of a plain GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_the_server_side_is_never_served_to_a_browser(example_app):
    """app.py serves the library's browser files and never tabsession/server/, and sends
    serve.py's Content-Security-Policy."""
    assert 404 == get(example_app("/tabsession/server/web.py"))[0]
    assert 404 == get(example_app("/tabsession/server/__init__.py"))[0]
    status, headers, body = get(example_app("/tabsession/browser/server.py"))
    assert 200 == status and body == (LIBRARY / "browser" / "server.py").read_bytes()
    status, headers, _ = get(example_app("/"))
    assert (200, serve_module.CONTENT_SECURITY_POLICY) == (status, headers["Content-Security-Policy"])


# --- the example in real tabs ------------------------------------------------------------------


@pytest.fixture(scope="session")
def example_app(tmp_path_factory):
    """examples/server/app.py, started once as a user would (`--port 0`); stopped (its PID
    signalled) at the end of the session."""
    server = live_server.LiveServer(script=EXAMPLE / "app.py", logs_in=tmp_path_factory.mktemp("example"),
                                    name="example-app")
    try:
        server.start()
    except live_server.ServerStartError as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


def for_pyodide(example_app):
    """A route handler: the app's own `/`, `/login` and `/pyscript.toml`, made to boot Pyodide."""
    pyodide = serve_module.RUNTIMES["pyodide"]

    def handle(route):
        parts = urlsplit(route.request.url)
        if f"{parts.scheme}://{parts.netloc}" != example_app.url or parts.path not in ("/", "/login",
                                                                                       "/pyscript.toml"):
            route.fallback()
            return
        response = route.fetch()
        text = response.text()
        if parts.path == "/pyscript.toml":
            text = serve_module.render_config(text, pyodide)
        else:
            assert text.count('<script type="mpy"') == 1, "the example no longer has one mpy script"
            text = text.replace('<script type="mpy"', f'<script type="{pyodide.script_type}"')
        route.fulfill(response=response, body=text)

    return handle


@pytest.fixture
def profiles(browser, example_app, runtime, request):
    """profiles() -> a new browser profile (context) on the example, watched; closed at the end."""
    made = []

    def make():
        # A page fulfilled by a route (Pyodide's) has no address of its own, so Chromium's Local
        # Network Access checks count it as public and block its push WebSocket to 127.0.0.1
        # (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS, seen here; its fetches, routed too,
        # pass). The permission gives it what a page served by 127.0.0.1 itself has.
        permissions = ["local-network-access"] if runtime == "pyodide" else []
        context = browser.new_context(permissions=permissions)
        made.append(context)
        watch_context(context, lambda: {example_app.url}, request.node)
        if runtime == "pyodide":
            context.route("**/*", for_pyodide(example_app))
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def open_page(example_app, runtime):
    """open_page(profile, path) -> a new tab of `profile` at `path`, once it has booted."""

    def open_(profile, path="/"):
        page = profile.new_page()
        page.goto(example_app(path), wait_until="commit")
        wait_booted(page, BOOT_TIMEOUT_MS[runtime])
        return page

    return open_


def status_of(page):
    return page.locator("#status").inner_text().strip()


def sign_in(page, name, state, runtime):
    """From the sign-in form (where `/` sends a signed-out tab), sign in as `name`; wait for `state`."""
    page.wait_for_url(re.compile(r"/login\?next=%2F$"))
    wait_state(page, "signed-out")
    assert SIGN_IN == status_of(page)
    page.fill("#sign-in input", name)
    page.click("#sign-in button")
    wait_state(page, state, BOOT_TIMEOUT_MS[runtime] * 2)
    return page


def wait_notes(page, user):
    """The name from /api/me and the notes from /data/notes, shown by the page."""
    page.locator("#user", has_text=user).wait_for(timeout=WITHIN_MS * 5)
    page.locator("#notes li").first.wait_for(timeout=WITHIN_MS * 5)
    return page.locator("#notes li").all_inner_texts()


def test_signing_in_shows_the_users_notes_which_only_the_active_tab_can_read(profiles, open_page, example_app,
                                                                              runtime):
    """Sign-in asks the app's server; the page then shows /api/me's name and /data/notes' notes.
    The profile's cookie alone (no tab's credentials) gets a 4xx JSON reason from /data/notes."""
    profile = profiles()
    tab = sign_in(open_page(profile, "/"), "ada", "active", runtime)

    assert ["Welcome back, ada.", "Only your active tab can read these notes."] == wait_notes(tab, "ada")
    assert "" == status_of(tab)
    assert tab.locator("#app").is_visible() and not tab.locator("#use-here").is_visible()
    assert "server" == tab.get_attribute("html", "data-authority")

    answer = profile.request.get(example_app("/data/notes"))
    assert any(c["name"] == "tabsession" for c in profile.cookies())
    assert 400 <= answer.status < 500, answer.status
    assert {"reason": "not-a-tab"} == json.loads(answer.text())


def test_a_second_profile_is_blocked_and_its_use_here_moves_the_first(profiles, open_page, runtime):
    """max_tabs=1 across profiles (S3): the same user signing in elsewhere is refused with Use
    here; Use here makes that tab active (with the notes) and the first one moved."""
    first = sign_in(open_page(profiles(), "/"), "ada", "active", runtime)
    wait_notes(first, "ada")

    second = sign_in(open_page(profiles(), "/"), "ada", "blocked", runtime)
    assert BLOCKED == status_of(second)
    assert second.locator("#use-here").is_visible()
    assert not second.locator("#sign-in").is_visible() and not second.locator("#app").is_visible()
    assert "active" == state_of(first)

    second.click("#use-here")
    wait_state(second, "active", BOOT_TIMEOUT_MS[runtime])
    wait_state(first, "moved", WITHIN_MS)
    assert "taken-over" == first.get_attribute("html", "data-reason")
    assert MOVED == status_of(first)
    assert first.locator("#use-here").is_visible() and not first.locator("#app").is_visible()
    assert "Welcome back, ada." in wait_notes(second, "ada")
