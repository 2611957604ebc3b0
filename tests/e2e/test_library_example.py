"""The README's "Use it in your own PyScript app" example, run as written, on both runtimes.

The example lives in examples/minimal/ (index.html, login.html, pyscript.toml) and the README
shows those files verbatim: the first tests check that, and that the `[files]` list names every
module of the library. The browser test then serves the example as a user's own site would be
laid out, by routing this context's requests (serve.py's allow-list is unchanged):

    /               -> examples/minimal/index.html   (the protected page)
    /login          -> examples/minimal/login.html   (the sign-in page)
    /pyscript.toml  -> examples/minimal/pyscript.toml
    /tabsession/... -> app/tabsession/...            (the library, "copied" beside the config)
    /vendor/...     -> serve.py, as usual            (PyScript and the interpreters)

The routed responses carry serve.py's own Content-Security-Policy. For Pyodide the example's
`<script type="mpy">` becomes `type="py"` and the interpreter line names Pyodide, exactly the
two changes the README tells a Pyodide user to make. The takeover test also writes
`policy="takeover"` where the example writes `policy="block"`, as a user choosing it would.
"""

import importlib.util
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Pyodide twins on Chromium only: test_engines.py runs the core scenarios on Pyodide in every
# engine; here Firefox would repeat interpreter coverage at seconds a case (CI time).
pytestmark = pytest.mark.pyodide_engines("chromium")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "minimal"
LIBRARY = ROOT / "app" / "tabsession"
README = ROOT / "README.md"
WITHIN_MS = 1000
EXAMPLE_MARKER = re.compile(r"<!-- example: (\S+) -->\n```[a-z]*\n(.*?)\n```", re.DOTALL)


def load_serve_module():
    spec = importlib.util.spec_from_file_location("serve_for_example", ROOT / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve_module = load_serve_module()


# --- the README and the files agree ------------------------------------------------------------


def readme_examples():
    return {path: text for path, text in EXAMPLE_MARKER.findall(README.read_text(encoding="utf-8"))}


def test_readme_shows_the_example_files_verbatim():
    """Each marked code block of the README is exactly the file it names, and all three are there."""
    blocks = readme_examples()

    assert {"examples/minimal/index.html", "examples/minimal/login.html",
            "examples/minimal/pyscript.toml"} <= set(blocks)
    for path, text in blocks.items():
        assert (ROOT / path).read_text(encoding="utf-8").rstrip("\n") == text, path


def test_files_list_names_every_library_module():
    """The example's [files] (what users copy) maps every .py of app/tabsession, and nothing else:
    not the server side (app/tabsession/server/), which must never reach a browser."""
    config = (EXAMPLE / "pyscript.toml").read_text(encoding="utf-8")
    listed = set(re.findall(r'^"\./(tabsession/[^"]+)" = "\./\1"$', config, re.MULTILINE))

    modules = {path.relative_to(LIBRARY.parent).as_posix() for path in LIBRARY.rglob("*.py")
               if "__pycache__" not in path.parts and "server" not in path.parts}

    assert modules == listed


def test_demo_config_maps_every_library_module():
    """The demo's own pyscript.toml maps every module of the library to the same import path
    (but for the server side)."""
    config = (ROOT / "pyscript.toml").read_text(encoding="utf-8")
    listed = set(re.findall(r'^"\./app/(tabsession/[^"]+)" = "\./\1"$', config, re.MULTILINE))

    modules = {path.relative_to(LIBRARY.parent).as_posix() for path in LIBRARY.rglob("*.py")
               if "__pycache__" not in path.parts and "server" not in path.parts}

    assert modules == listed


# --- the example in a browser ------------------------------------------------------------------


def example_body(path, runtime, policy=None, arguments=None):
    """The example file behind a request path, adapted to the runtime (and to `policy` when
    given, and with more `arguments` to `tabsession.create`); None if not ours."""
    spec = serve_module.RUNTIMES[runtime]
    pages = {"/": "index.html", "/login": "login.html"}
    if path in pages:
        text = (EXAMPLE / pages[path]).read_text(encoding="utf-8")
        if policy is not None:
            assert 'policy="block"' in text, "the example no longer names its policy"
            text = text.replace('policy="block"', f'policy="{policy}"')
        if arguments is not None:
            assert "idle_timeout=600)" in text, "the example no longer ends its create() call so"
            text = text.replace("idle_timeout=600)", "idle_timeout=600, " + arguments + ")")
        return text.replace('<script type="mpy"', f'<script type="{spec.script_type}"'), ".html"
    if path == "/pyscript.toml":
        text = (EXAMPLE / "pyscript.toml").read_text(encoding="utf-8")
        return serve_module.render_config(text, spec), ".toml"
    if path.startswith("/tabsession/") and path.endswith(".py") and ".." not in path:
        file = LIBRARY.parent / path.lstrip("/")
        if file.is_file():
            return file.read_text(encoding="utf-8"), ".py"
    return None


def serve_example(context, server, runtime, policy=None, arguments=None):
    """Route the example site's paths on `server`'s origin; everything else goes on as usual."""

    def handle(route):
        parts = urlsplit(route.request.url)
        if f"{parts.scheme}://{parts.netloc}" != server.url:
            route.fallback()
            return
        found = example_body(parts.path, runtime, policy, arguments)
        if found is None:
            route.fallback()
            return
        body, suffix = found
        route.fulfill(status=200, body=body, headers={
            "Content-Type": serve_module.MIME_TYPES[suffix],
            "Cache-Control": "no-store",
            "Content-Security-Policy": serve_module.CONTENT_SECURITY_POLICY,
        })

    context.route("**/*", handle)


# What the example's pages say in each state (their MESSAGES).
SIGN_IN = "Please sign in."
BLOCKED = "You already have an active session in another tab."
MOVED = "This session is now in use in another tab."


def status(page):
    return page.locator("#status").inner_text().strip()


def wait_status(page, expected, timeout_ms=WITHIN_MS * 10):
    page.wait_for_function("(expected) => document.getElementById('status').textContent.trim() === expected",
                           arg=expected, timeout=timeout_ms)


@pytest.fixture
def example(context, app_server, runtime):
    """The example as written (policy "block")."""
    serve_example(context, app_server, runtime)
    return app_server


@pytest.fixture
def takeover_example(context, app_server, runtime):
    """The example with `policy="takeover"` in both pages."""
    serve_example(context, app_server, runtime, policy="takeover")
    return app_server


@pytest.fixture
def leases_example(context, app_server, runtime):
    """The example forcing the lock adapter a browser without Web Locks gets."""
    serve_example(context, app_server, runtime, arguments='locks="storage"')
    return app_server


def sign_in_first_tab(context, server, new_tab, wait_state):
    """Open `/`, land on the sign-in form, try an empty name, sign in as "ada"; the active tab."""
    first = new_tab(context, server, "/")

    first.wait_for_url(re.compile(r"/login\?next=%2F$"), timeout=WITHIN_MS * 10)
    wait_state(first, "signed-out")
    wait_status(first, SIGN_IN)
    assert first.locator("#sign-in").is_visible()
    assert not first.locator("#use-here").is_visible()
    first.click("#sign-in button")
    first.locator("#login-error").wait_for(state="visible")
    assert "1 to 64" in first.locator("#login-error").inner_text()

    first.fill("#sign-in input", "ada")
    first.click("#sign-in button")
    first.wait_for_url(re.compile(r"/$"), timeout=WITHIN_MS * 10)
    wait_state(first, "active")
    wait_status(first, "")
    assert "ada" == first.locator("#user").inner_text()
    assert first.locator("#app").is_visible()
    assert not first.locator("#use-here").is_visible()
    return first


@pytest.mark.no_pyodide_twin(
    "the same refusal as test_readme_example_runs_sign_in_takeover_use_here_and_sign_out")
def test_readme_example_refuses_a_second_tab_with_use_here_not_the_form(example, context, new_tab, wait_state):
    """Policy "block": a second tab lands refused on the sign-in page, which offers Use here and
    no form; Use here makes it active and the first tab moved, whose Use here brings it back."""
    first = sign_in_first_tab(context, example, new_tab, wait_state)

    second = new_tab(context, example, "/")
    second.wait_for_url(re.compile(r"/login\?(.*&)?reason=active-elsewhere(&|$)"), timeout=WITHIN_MS * 10)
    wait_state(second, "blocked")
    wait_status(second, BLOCKED)
    assert not second.locator("#sign-in").is_visible()
    assert second.locator("#use-here").is_visible()
    assert first.get_attribute("html", "data-tab-state") == "active"

    second.click("#use-here")
    wait_state(second, "active", WITHIN_MS * 10)
    wait_state(first, "moved", WITHIN_MS)
    wait_status(first, MOVED, WITHIN_MS)
    assert "ada" == second.locator("#user").inner_text()
    assert second.locator("#app").is_visible()
    assert not first.locator("#app").is_visible()
    assert first.locator("#use-here").is_visible()

    first.click("#use-here")
    wait_state(first, "active", WITHIN_MS)
    wait_state(second, "moved", WITHIN_MS)
    wait_status(second, MOVED, WITHIN_MS)
    assert not second.locator("#sign-in").is_visible()


def test_readme_example_runs_sign_in_takeover_use_here_and_sign_out(takeover_example, context, new_tab,
                                                                     wait_state):
    """The example with policy "takeover": every API call it makes does what the README says."""
    first = sign_in_first_tab(context, takeover_example, new_tab, wait_state)

    # max_tabs=1, policy="takeover": a second tab gets in and the first is moved.
    second = new_tab(context, takeover_example, "/")
    wait_state(second, "active")
    wait_state(first, "moved", WITHIN_MS)
    wait_status(first, MOVED, WITHIN_MS)
    assert first.get_attribute("html", "data-reason") == "taken-over"
    assert not first.locator("#app").is_visible()
    assert first.locator("#use-here").is_visible()

    first.click("#use-here")
    wait_state(first, "active", WITHIN_MS)
    wait_state(second, "moved", WITHIN_MS)

    first.click("#sign-out")
    for page in (first, second):
        page.wait_for_url(re.compile(r"/login\?reason=signed-out$"), timeout=WITHIN_MS * 5)
        wait_state(page, "signed-out")
        wait_status(page, SIGN_IN)
        assert page.locator("#sign-in").is_visible()


NO_LOCAL_STORAGE = """Object.defineProperty(window, "localStorage", {
  configurable: true,
  get() { throw new DOMException("Site data is blocked.", "SecurityError"); },
});"""


def test_readme_example_says_why_when_storage_is_blocked(example, context, wait_state):
    """Storage that throws: both pages stay put in the error state with a readable message,
    and offer neither the form nor Use here."""
    for path in ("/login", "/"):
        page = context.new_page()
        page.add_init_script(script=NO_LOCAL_STORAGE)
        page.goto(example(path))
        wait_state(page, "error")
        wait_status(page, "This browser does not let the page keep a session (is site data blocked?).")
        assert not page.locator("#sign-in").is_visible()
        assert not page.locator("#use-here").is_visible()
        assert not page.locator("#app").is_visible()
        page.close()


@pytest.mark.no_pyodide_twin("the same lease path as test_fallbacks' Pyodide twin")
def test_readme_example_forcing_storage_leases_still_refuses_and_moves(leases_example, context, new_tab,
                                                                       wait_state):
    """create(..., locks="storage") runs the storage-lease adapter even where Web Locks exist, and
    the rules hold: a second tab is refused, its Use here moves the first."""
    first = sign_in_first_tab(context, leases_example, new_tab, wait_state)
    assert first.get_attribute("html", "data-coordination").startswith("storage+")

    second = new_tab(context, leases_example, "/")
    wait_state(second, "blocked")
    second.click("#use-here")

    wait_state(second, "active", WITHIN_MS * 10)
    wait_state(first, "moved", WITHIN_MS * 2)
