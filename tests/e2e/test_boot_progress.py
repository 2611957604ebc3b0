"""While Python boots, #starting says how much of the runtime has arrived (static/boot.js):
"Loading the Python runtime: 3.2 of 9.8 MB" as bytes come, then "Starting Python…".

The interpreter's wasm is held back (page.route keeps the request unanswered) until the page has
shown a byte count, so the check never races a fast boot. The harness fails a test on any page
error, console error or CSP violation.
"""

import re

import pytest

from tabs import state_of

# Pyodide on Chromium only: seconds a case, and the counting is the same script on both.
pytestmark = pytest.mark.pyodide_engines("chromium")

WASM = re.compile(r".*/vendor/[^/]+/[^/]+\.wasm(\?.*)?$")
BYTES = re.compile(r"^Loading the Python runtime: (\d+\.\d) (?:MB so far|of (\d+\.\d) MB)$")

# Every text #boot-progress shows, recorded in the page from its first paint (a poll from the
# test could miss the short ones). Playwright's init scripts are not subject to the page's CSP.
RECORD_TEXTS = """
(() => {
  if (!location.protocol.startsWith("http")) return;
  const texts = window.__bootTexts = [];
  const note = () => {
    const label = document.getElementById("boot-progress");
    const text = label && label.textContent;
    if (text && texts[texts.length - 1] !== text) texts.push(text);
  };
  new MutationObserver(note).observe(document, {childList: true, subtree: true, characterData: true});
})();
"""


WASM_MB = {"micropython": 0.4, "pyodide": 9.6}


def bytes_shown(text):
    """The bytes loaded that a text of #boot-progress names, in MB (0 when it names none)."""
    match = BYTES.match(text or "")
    return float(match.group(1)) if match else 0.0


def total_shown(text):
    """The total that a text names, in MB (None for "so far" or no count)."""
    match = BYTES.match(text or "")
    return float(match.group(2)) if match and match.group(2) else None


def test_boot_shows_bytes_loaded_then_starting(app_server, page, runtime, wait_booted):
    held = []
    page.route(WASM, lambda route: held.append(route))  # answered below, once counted
    page.add_init_script(script=RECORD_TEXTS)

    page.goto(app_server("/"), wait_until="commit")
    for _ in range(app_server.boot_timeout_ms // 50):  # the route's call reaches us between calls
        if held:
            break
        page.wait_for_timeout(50)
    page.wait_for_function(
        """re => { const label = document.getElementById("boot-progress");
                   const match = label && new RegExp(re).exec(label.textContent);
                   return match !== null && parseFloat(match[1]) > 0; }""",
        arg=BYTES.pattern, timeout=app_server.boot_timeout_ms)

    # The wasm is still held: the page is booting, says what came so far, and hides #app.
    assert 1 == len(held), [route.request.url for route in held]
    assert "booting" == state_of(page)
    shown = page.locator("#boot-progress").inner_text()
    assert bytes_shown(shown) > 0, shown
    assert page.locator("#boot-progress-bar").is_visible()
    assert not page.locator("#app").is_visible()

    held[0].continue_()
    decided = wait_booted(page, app_server.boot_timeout_ms)

    assert "signed-out" == decided  # a fresh profile: the sign-in page
    texts = page.evaluate("() => window.__bootTexts")
    assert "Starting Python…" == texts[-1], texts  # the downloads were over before Python decided
    counts = [(bytes_shown(text), total_shown(text)) for text in texts if total_shown(text)]
    # Once the wasm's length is known the total covers it: MicroPython's is 0.4 MB, Pyodide's 9.6.
    assert counts and max(total for _, total in counts) >= WASM_MB[runtime], texts
    assert all(loaded <= total for loaded, total in counts), texts
    # Counting stopped with the decision: fetch is the browser's own again.
    assert page.evaluate("() => String(window.fetch).includes('[native code]')")
    assert not page.locator("#starting").is_visible()
