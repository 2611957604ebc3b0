"""Page addresses: query parsing, percent coding, the safe ``next`` rule and login URLs."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabsession.core import urls

TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)
# Characters that matter to the next rule, so the fuzzer meets the tricky cases often.
TRICKY = st.text(alphabet="/\\%2Ff5Cc.:@?#&=+ \t\n\x00lLogin6Eevil", max_size=30)


def next_of(query):
    return urls.parse_query(query).get("next")


# ---------------------------------------------------------------- parse_query
@pytest.mark.parametrize("search,expected", [
    ("", {}),
    ("?", {}),
    ("?next=%2F", {"next": "/"}),
    ("next=%2F&reason=idle", {"next": "/", "reason": "idle"}),
    ("?a=1&a=2", {"a": "1"}),
    ("?flag", {"flag": ""}),
    ("?a=b=c", {"a": "b=c"}),
    ("?x=a+b%20c", {"x": "a b c"}),
    ("?%72eason=idle", {"reason": "idle"}),
    ("?x=%zz", {"x": "%zz"}),
    ("?x=%", {"x": "%"}),
    ("?bad=%FF&good=1", {"good": "1"}),
    ("&&x=1&&", {"x": "1"}),
    ("?caf%C3%A9=%E2%9C%93", {"caf\u00e9": "\u2713"}),
])
def test_parse_query(search, expected):
    """The first value of each parameter, decoded; undecodable pairs are skipped."""

    actual = urls.parse_query(search)

    assert expected == actual


@pytest.mark.parametrize("search", [None, 5, b"?next=%2F", ["next"]])
def test_parse_query_of_non_text_is_empty(search):
    """Anything that is not text has no parameters."""

    actual = urls.parse_query(search)

    assert {} == actual


# ------------------------------------------------------------- percent coding
@pytest.mark.parametrize("text,encoded", [
    ("/", "%2F"),
    ("a b", "a%20b"),
    ("a+b", "a%2Bb"),
    ("/x?y=1&z", "%2Fx%3Fy%3D1%26z"),
    ("~-._", "~-._"),
    ("\u00e9", "%C3%A9"),
])
def test_percent_encode(text, encoded):
    """Everything but unreserved characters is escaped as UTF-8 %XX."""

    actual = urls.percent_encode(text)

    assert encoded == actual


@pytest.mark.parametrize("text,expected", [
    ("%2f%2F", "//"),
    ("a+b", "a b"),
    ("100%", "100%"),
    ("%G1", "%G1"),
    ("%C3%A9", "\u00e9"),
    ("%C3", None),
    ("%FF%FE", None),
    (None, None),
    (42, None),
])
def test_percent_decode(text, expected):
    """Escapes decode (either case), junk escapes stay, bytes that are not UTF-8 give None."""

    actual = urls.percent_decode(text)

    assert expected == actual


@settings(max_examples=150, deadline=None)
@given(text=TEXT)
def test_percent_round_trip(text):
    """Decoding what was encoded gives the text back."""

    actual = urls.percent_decode(urls.percent_encode(text))

    assert text == actual


@settings(max_examples=100, deadline=None)
@given(text=TEXT)
def test_percent_encoded_text_survives_parse_query(text):
    """A value encoded into a query comes back out of parse_query unchanged."""

    actual = urls.parse_query("?v=" + urls.percent_encode(text))

    assert {"v": text} == actual


# ------------------------------------------------------------------ safe_next
REFUSED = [
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "https:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    "%2F%2Fevil",
    "/%2Fevil.example",
    "/%2F%2Fevil",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/\x00",
    "/a\nb",
    "/a\rb",
    "/\tevil",
    "/%00",
    "/%0A",
    "/%0d%0aSet-Cookie:x",
    "/%7F",
    "/%20",
    " /",
    " //evil.example",
    "\t/x",
    "\n/x",
    "\u00a0/x",
    "/login",
    "/login?x",
    "/login?next=%2F",
    "/login/",
    "/login/extra",
    "/%6Cogin",
    "/%6c%6F%67%69%6E",
    "/..//evil",
    "/a/../..//evil",
    "/%2E%2E/%2Fevil",
    "/x#frag",
    "/caf\u00e9",
    "/%FF",
    "",
    "x",
    "/" + "a" * urls.MAX_NEXT_CHARS,
    None,
    17,
    ["/"],
]


@pytest.mark.parametrize("candidate", REFUSED, ids=lambda candidate: repr(candidate)[:40])
def test_safe_next_refuses(candidate):
    """Anything but a plain same-origin path (and never the login page) becomes '/'."""

    actual = urls.safe_next(candidate)

    assert "/" == actual


# Issue 16: dot segments, in every spelling the URL standard resolves, and what they resolve to.
DOT_SEGMENTS = [
    "/./",
    "/.",
    "/..",
    "/x/./y",
    "/x/../y",
    "/x/..",
    "/x/.",
    "/.//evil.example",
    "/./%2Fevil.example",
    "/%2e//evil.example",
    "/%2E//evil.example",
    "/%2e%2E//evil.example",
    "/.%2e//evil.example",
    "/%2e.//evil.example",
    "/a/..//evil.example",
    "/a/b/../..//evil.example",
    "/a/%2e%2e/%2fevil.example",
    "/%2e%2e%2f%2fevil.example",
    "/%252e//evil.example",
    "/%5C.%5Cevil.example",
    "/.%5C%5Cevil.example",
    "/./?x=1",
    "/x/./y?next=%2F",
]


@pytest.mark.parametrize("candidate", DOT_SEGMENTS)
def test_safe_next_refuses_dot_segments(candidate):
    """A path the browser would rewrite before going there (issue 16: /.//evil.example lands on
    the same-origin path //evil.example) becomes '/', whatever it would have become."""

    actual = urls.safe_next(candidate)

    assert "/" == actual


@pytest.mark.parametrize("query", ["next=/.//evil.example", "next=%2F.%2F%2Fevil.example",
                                   "next=%2F%252e%2F%2Fevil.example", "next=/x/../../evil.example",
                                   "next=%2F.%5C%5Cevil.example"])
def test_safe_next_refuses_dot_segments_from_the_query(query):
    """The issue's link, and its encoded forms, as the login page reads them."""

    actual = urls.safe_next(next_of(query))

    assert "/" == actual


@pytest.mark.parametrize("path,expected", [
    ("/", "/"),
    ("/a/b", "/a/b"),
    ("/a//b", "/a//b"),
    ("/./", "/"),
    ("/.", "/"),
    ("/..", "/"),
    ("/../..", "/"),
    ("/a/.", "/a/"),
    ("/a/..", "/"),
    ("/a/../b", "/b"),
    ("/a/./b/", "/a/b/"),
    ("/.//evil.example", "//evil.example"),
    ("/a/..//evil.example", "//evil.example"),
    ("/%2e//evil.example", "//evil.example"),
    ("/%2E%2e/x", "/x"),
    ("/.%2E/x", "/x"),
    ("/a\\..\\b", "/b"),
    ("/\\evil.example", "//evil.example"),  # to the browser: the host evil.example
    ("/...", "/..."),
    ("/.a/a./%2ex", "/.a/a./%2ex"),
])
def test_resolved_path(path, expected):
    """The URL standard's resolution of an absolute path, as a browser does it for http(s)
    (checked once against Chromium's ``new URL(path, base).pathname``)."""

    actual = urls.resolved_path(path)

    assert expected == actual


@pytest.mark.parametrize("query", ["next=%252F%252Fevil", "next=%2F%2Fevil", "next=%2F%5Cevil",
                                   "next=%2F%256Cogin", "next=https%3A%2F%2Fevil.example",
                                   "?next=+%2F%2Fevil", "next=%2Flogin%3Fnext%3D%252F"])
def test_safe_next_refuses_what_parse_query_gives(query):
    """The next rule holds for values as they come out of the login page's query."""

    actual = urls.safe_next(next_of(query))

    assert "/" == actual


@pytest.mark.parametrize("candidate", [
    "/",
    "/?x=1",
    "/?a=1&b=two",
    "/reports/2024",
    "/reports/2024?page=2&sort=desc",
    "/a-b_c.d~e",
    "/caf%C3%A9",
    "/logins",
    "/loginx/y",
    "/search?q=a+b%2Fc",
    "/a//b",
    "/a.b/c..d/.e/...",
    "/%2e%2ex",
    "/" + "a" * (urls.MAX_NEXT_CHARS - 1),
])
def test_safe_next_keeps_good_paths(candidate):
    """Plain same-origin paths are kept as they are."""

    actual = urls.safe_next(candidate)

    assert candidate == actual


def test_safe_next_keeps_a_good_path_from_the_query():
    """A path that went through login_url and parse_query survives."""
    url = urls.login_url(None, "/reports?page=2")

    actual = urls.safe_next(next_of(url.split("?", 1)[1]))

    assert "/reports?page=2" == actual


@settings(max_examples=200, deadline=None)
@given(candidate=st.one_of(TEXT, TRICKY, TRICKY.map(lambda text: "/" + text)))
def test_safe_next_always_gives_a_local_path(candidate):
    """Whatever comes in, the result is a path on this origin: '/', not '//', no backslash."""

    actual = urls.safe_next(candidate)

    decoded = urls.percent_decode(actual)
    assert isinstance(actual, str)
    assert actual.startswith("/") and not actual.startswith("//")
    assert "\\" not in actual
    assert decoded is not None and not decoded.startswith("//") and "\\" not in decoded
    assert urls.safe_next(actual) == actual
    path = actual.split("?", 1)[0]
    assert (path, decoded) == (urls.resolved_path(path), urls.resolved_path(decoded))


# ------------------------------------------------------------------ login_url
@pytest.mark.parametrize("reason,next_path,expected", [
    (None, "/", "/login?next=%2F"),
    ("signed-out", None, "/login?reason=signed-out"),
    ("active-elsewhere", None, "/login?reason=active-elsewhere"),
    ("idle", "/reports?x=1", "/login?reason=idle&next=%2Freports%3Fx%3D1"),
    (None, None, "/login"),
    (None, "//evil.example", "/login?next=%2F"),
    ("expired", "/login", "/login?reason=expired&next=%2F"),
])
def test_login_url(reason, next_path, expected):
    """The login URL carries the reason first, then a safe next path."""

    actual = urls.login_url(reason, next_path)

    assert expected == actual


def test_login_url_defaults():
    """With only a reason, there is no next parameter."""

    actual = urls.login_url("signed-out")

    assert "/login?reason=signed-out" == actual


@settings(max_examples=100, deadline=None)
@given(next_path=st.one_of(TEXT, TRICKY.map(lambda text: "/" + text)),
       reason=st.sampled_from([None, "idle", "signed-out", "expired", "active-elsewhere"]))
def test_login_url_round_trips_through_parse_query(next_path, reason):
    """The login page reads back the reason and the safe form of next."""
    url = urls.login_url(reason, next_path)

    actual = urls.parse_query(url.split("?", 1)[1])

    expected = {"next": urls.safe_next(next_path)}
    if reason:
        expected["reason"] = reason
    assert expected == actual


# ---------------------------------------------------------------- another sign-in page (issue 17)
@pytest.mark.parametrize("login_path, reason, next_path, expected", [
    ("/login.html", "idle", "/notes", "/login.html?reason=idle&next=%2Fnotes"),
    ("/login/", None, "/", "/login/?next=%2F"),
    ("/account/sign-in", "signed-out", None, "/account/sign-in?reason=signed-out"),
])
def test_login_url_goes_to_the_page_the_settings_name(login_path, reason, next_path, expected):
    assert expected == urls.login_url(reason, next_path, login_path)


@pytest.mark.parametrize("login_path, candidate", [
    ("/login.html", "/login.html"), ("/login.html", "/login.html?reason=idle"),
    ("/login/", "/login/"), ("/login/", "/login"), ("/login/", "/login/x"),
    ("/login", "/login/"), ("/account/sign-in", "/account/sign-in"), ("/account/sign-in", "/account/sign-in/"),
])
def test_next_never_names_the_sign_in_page_the_settings_name(login_path, candidate):
    """Going back to the sign-in page after signing in would loop, whichever path it has."""
    assert "/" == urls.safe_next(candidate, login_path)


@pytest.mark.parametrize("login_path, candidate", [
    ("/login.html", "/login"), ("/login.html", "/notes"), ("/login/", "/login-help"), ("/account/sign-in", "/account"),
])
def test_next_may_name_a_page_beside_the_sign_in_page(login_path, candidate):
    assert candidate == urls.safe_next(candidate, login_path)
