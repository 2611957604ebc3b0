"""Hardening (issue 5): tokens and ids are 128-bit values from the CSPRNG, never in a URL.

Shared set-up and helpers: hardening.py.
"""

import json

import pytest

from hardening import ID, SESSION_KEY, data, selected_runtimes, sign_in, stored

# Every case runs on every engine with MicroPython; the Pyodide twins on Chromium only.
pytestmark = pytest.mark.pyodide_engines("chromium")


# Keeps, in the tab's sessionStorage, the hex of every 16-byte buffer crypto.getRandomValues filled.
_RECORD_RANDOM = """(() => {
  const original = Crypto.prototype.getRandomValues;
  Crypto.prototype.getRandomValues = function (array) {
    const result = original.call(this, array);
    if (array && array.byteLength === 16) {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      const seen = JSON.parse(window.sessionStorage.getItem("probe:random") || "[]");
      seen.push(hex);
      window.sessionStorage.setItem("probe:random", JSON.stringify(seen));
    }
    return result;
  };
})();"""


def random_values(page):
    return page.evaluate("() => JSON.parse(sessionStorage.getItem('probe:random') || '[]')")


@pytest.mark.parametrize("runtime", selected_runtimes())
def test_tokens_and_ids_are_128_bit_csprng_values_and_never_in_a_url(serve, runtime, context, wait_state):
    """The session token and every tab id are 32 lowercase hex digits that crypto.getRandomValues
    produced as 16 bytes, all different; no URL requested or visited in sign-in, refusal, use
    here and sign-out holds the token, a tab id or the user name."""
    server = serve(runtime)
    context.add_init_script(script=_RECORD_RANDOM)
    urls = []
    context.on("request", lambda request: urls.append(request.url))
    user = "zoe-q7x9"
    first = context.new_page()
    second = context.new_page()
    for page in (first, second):
        page.on("framenavigated", lambda frame: urls.append(frame.url))

    first.goto(server("/login"))
    sign_in(first, wait_state, user)
    token = json.loads(stored(first)["local"][SESSION_KEY])["token"]
    second.goto(server("/"))
    wait_state(second, "blocked")
    second.click("#use-here")
    wait_state(second, "active")
    wait_state(first, "moved")
    ids = [data(first)["tabId"], data(second)["tabId"]]
    second.click("#logout")
    for page in (first, second):
        wait_state(page, "signed-out")
        urls.append(page.url)

    secrets = [token, *ids]
    assert all(ID.match(value) for value in secrets), secrets
    assert len(set(secrets)) == 3
    assert token in random_values(first)
    assert ids[0] in random_values(first) and ids[1] in random_values(second)
    leaked = [url for url in urls if any(secret in url for secret in (*secrets, user))]
    assert [] == leaked
    assert len(urls) > 10
