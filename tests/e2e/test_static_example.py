"""The README's static-host example, run as a user would: the wheel, a plain static server, both runtimes.

examples/static/ is a site with no server of its own: index.html (the protected page), login.html
(the sign-in page: `login_path="/login.html"`, because a plain static server has no `/login`),
and a pyscript.toml that unpacks the library's wheel. The test lays the site out in a folder as
the README says (the three files, the wheel that `python -m build` makes, PyScript and the
interpreter under vendor/) and serves it with `python -m http.server`, stopped by its PID at the
end. The browser decides (no server authority). For Pyodide the pages say `type="py"` and the
interpreter line names Pyodide: the two changes the README tells a Pyodide user to make.

tests/support/static_site.py lays the site out and serves it (bench/package.py uses it too).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import static_site  # tests/support/
import tabsession
from app_servers import BOOT_TIMEOUT_MS
from browser_watch import watch_context
from tabs import state_of, wait_booted, wait_state

pytestmark = pytest.mark.pyodide_engines("chromium")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "static"
README = ROOT / "README.md"
SECTION = "### On a static host, with the wheel"
EXAMPLE_MARKER = re.compile(r"<!-- example: (\S+) -->\n```[a-z]*\n(.*?)\n```", re.DOTALL)
WHEEL = f"tabsession-{tabsession.__version__}-py3-none-any.whl"
WITHIN_MS = 1000
# A user's stylesheet that gives the protected element a display of its own (issue 17).
STYLED = "<style>#app { display: block; }</style>\n</head>"


def test_readme_section_shows_the_static_example_verbatim():
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    ends = [found for found in (text.find("\n## ", start), text.find("\n### ", start + 1)) if found > 0]
    section = text[start:min(ends)]
    blocks = dict(EXAMPLE_MARKER.findall(section))

    assert {"examples/static/index.html", "examples/static/login.html", "examples/static/pyscript.toml"} == set(blocks)
    for path, block in blocks.items():
        assert (ROOT / path).read_text(encoding="utf-8").rstrip("\n") == block, path


def test_the_example_unpacks_the_wheel_of_this_version():
    """The example names the wheel `python -m build` makes now: bumping the version means
    changing the example (and the README with it)."""
    config = (EXAMPLE / "pyscript.toml").read_text(encoding="utf-8")
    assert f'"./{WHEEL}" = "./*"' in config


# --- the site ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    return out / WHEEL


@pytest.fixture(scope="session")
def static_sites(tmp_path_factory, wheel):
    """static_sites(runtime) -> the site's origin, served by `python -m http.server` (one per
    runtime, started on first use, stopped by PID at the end of the session). Beside the
    README's files: the wheel, and styled.html (index.html with a stylesheet of the page's own)."""
    started = {}

    def site(runtime):
        if runtime not in started:
            folder = tmp_path_factory.mktemp("static") / runtime
            static_site.lay_out(folder, runtime)
            (folder / WHEEL).write_bytes(wheel.read_bytes())
            index = (folder / "index.html").read_text(encoding="utf-8")
            (folder / "styled.html").write_text(index.replace("</head>", STYLED, 1), encoding="utf-8")
            try:
                started[runtime] = static_site.serve(folder)
            except RuntimeError as error:
                pytest.fail(str(error), pytrace=False)
        return started[runtime][1]

    yield site
    for process, _ in started.values():
        static_site.stop(process)


@pytest.fixture
def site(static_sites, runtime):
    return static_sites(runtime)


@pytest.fixture
def profile(browser, site, request):
    """A browser profile on the static site, watched like every context of this suite."""
    context = browser.new_context()
    watch_context(context, lambda: {site}, request.node)
    yield context
    context.close()


@pytest.fixture
def open_page(site, runtime):
    def open_(context, path="/"):
        page = context.new_page()
        page.goto(site + path, wait_until="commit")
        wait_booted(page, BOOT_TIMEOUT_MS[runtime])
        return page

    return open_


def sign_in(page, runtime):
    page.wait_for_url(re.compile(r"/login\.html\?next=%2F$"))
    wait_state(page, "signed-out")
    page.fill("#sign-in input", "alice")
    page.click("#sign-in button")
    wait_state(page, "active", BOOT_TIMEOUT_MS[runtime] * 2)
    return page


# --- the example in real tabs -----------------------------------------------------------------


def test_the_static_example_signs_in_refuses_a_second_tab_and_moves_with_use_here(profile, open_page, runtime):
    """Signed out, `/` goes to /login.html with next; signing in comes back to `/`, active; a
    second tab is refused on /login.html with its reason; its Use here takes the session and the
    first tab says it moved, its #app hidden; signing out there ends it in both."""
    first = sign_in(open_page(profile, "/"), runtime)
    assert (first.url.endswith("/"), True) == (True, first.locator("#app").is_visible())

    second = open_page(profile, "/")
    second.wait_for_url(re.compile(r"/login\.html\?reason=active-elsewhere$"))
    wait_state(second, "blocked")
    second.click("#use-here")
    wait_state(second, "active", BOOT_TIMEOUT_MS[runtime] * 2)
    wait_state(first, "moved", WITHIN_MS * 2)

    assert not first.locator("#app").is_visible()
    assert "This session is now in use in another tab." == first.locator("#status").inner_text().strip()
    second.click("#sign-out")
    for page in (first, second):
        page.wait_for_url(re.compile(r"/login\.html\?reason=signed-out"), timeout=BOOT_TIMEOUT_MS[runtime])
        wait_state(page, "signed-out")


def test_the_library_hides_the_protected_element_even_when_a_stylesheet_shows_it(profile, open_page, runtime):
    """The page's own stylesheet says `#app { display: block }`, which beats the `hidden`
    attribute: the library's inline rule still hides #app once the tab is not active."""
    first = sign_in(open_page(profile, "/"), runtime)
    first.goto(first.url.rsplit("/", 1)[0] + "/styled.html")
    wait_state(first, "active")
    assert first.locator("#app").is_visible()

    second = open_page(profile, "/")
    wait_state(second, "blocked")
    second.click("#use-here")
    wait_state(first, "moved", BOOT_TIMEOUT_MS[runtime])

    assert ("moved", False) == (state_of(first), first.locator("#app").is_visible())
