"""Run-time settings: defaults, lenient reading of page JSON, strict direct construction."""

import json

import pytest

from tabsession.core.settings import BLOCK, DEFAULTS, MAX_SECONDS, MAX_TABS, TAKEOVER, Settings


def settings_dict(**changes):
    values = dict(DEFAULTS)
    values.update(changes)
    return values


def test_defaults_match_the_contract():
    """The defaults are the contract's: one tab, block, 900 s idle, 60 s warning, 8 h absolute;
    a page given no settings has no server to ask, so the browser decides (serve.py, whose
    default is the server, says "server" in every page it serves); the sign-in page is /login."""

    actual = Settings.default().to_dict()

    assert {"runtime": "micropython", "max_tabs": 1, "policy": "block", "idle_timeout": 900,
            "warn_before": 60, "absolute_timeout": 28800, "authority": "browser",
            "login_path": "/login"} == actual


@pytest.mark.parametrize("path", ["/login", "/login.html", "/login/", "/account/sign-in", "/a_b~c.html"])
def test_a_login_path_a_static_host_can_serve_is_kept(path):
    """Issue 17: a plain static server has no /login for login.html; the page says where it is."""
    settings = Settings.from_json({"login_path": path})
    assert (path, []) == (settings.login_path, settings.problems)


@pytest.mark.parametrize("path", ["login", "//evil.example", "/", "/login?x=1", "/a/../login", "/%2e%2e/x",
                                  "/log in", "https://evil.example/login", "/x\\y", "", None, 5, "/" + "x" * 100])
def test_a_login_path_that_is_not_a_plain_absolute_path_falls_back_to_login(path):
    settings = Settings.from_json({"login_path": path})
    assert "/login" == settings.login_path
    assert ["login_path"] == [problem.split()[1].rstrip(":") for problem in settings.problems]


def test_an_unknown_authority_falls_back_to_the_browser():
    """A page whose settings name no known authority decides in the browser, and says why."""

    settings = Settings.from_json('{"authority": "cloud"}')

    assert ("browser", ["invalid authority: 'cloud'; using default"]) == \
        (settings.authority, settings.problems)


def test_default_slots():
    """One slot per allowed active tab, none when unlimited."""

    actual = [Settings(**settings_dict(max_tabs=n)).slots() for n in (0, 1, 3)]

    assert [[], [0], [0, 1, 2]] == actual


def test_from_json_reads_every_field():
    """Valid page JSON is taken as it is, with no problems."""
    chosen = {"runtime": "pyodide", "max_tabs": 3, "policy": TAKEOVER, "idle_timeout": 120,
              "warn_before": 30, "absolute_timeout": 600, "authority": "server", "login_path": "/login.html"}

    settings = Settings.from_json(json.dumps(chosen))

    assert (chosen, []) == (settings.to_dict(), settings.problems)


def test_from_json_accepts_a_dict():
    """An application may pass a dict instead of text."""

    settings = Settings.from_json({"max_tabs": 0})

    assert (settings_dict(max_tabs=0), []) == (settings.to_dict(), settings.problems)


def test_from_json_of_empty_object_is_defaults():
    """Missing fields take their defaults without complaint."""

    settings = Settings.from_json("{}")

    assert (DEFAULTS, []) == (settings.to_dict(), settings.problems)


@pytest.mark.parametrize("text", [None, "", "not json", "[]", "null", "3", '"x"', "{"])
def test_from_json_of_junk_is_defaults_with_a_problem(text):
    """Text that is not a JSON object gives the defaults and one problem."""

    settings = Settings.from_json(text)

    assert (DEFAULTS, 1) == (settings.to_dict(), len(settings.problems))


@pytest.mark.parametrize("name,value", [
    ("runtime", "cpython"),
    ("runtime", None),
    ("policy", "kick"),
    ("policy", ["block"]),
    ("max_tabs", -1),
    ("max_tabs", MAX_TABS + 1),
    ("max_tabs", "2"),
    ("max_tabs", True),
    ("max_tabs", 2.0),
    ("idle_timeout", 0),
    ("idle_timeout", -5),
    ("idle_timeout", MAX_SECONDS + 1),
    ("idle_timeout", 1e308),
    ("idle_timeout", None),
    ("warn_before", -1),
    ("warn_before", False),
    ("warn_before", 900),
    ("absolute_timeout", 0),
    ("absolute_timeout", "28800"),
])
def test_from_json_bad_value_falls_back_for_that_field_only(name, value):
    """One bad value falls back to its default, the others are kept, and the problem is named."""
    given = {"max_tabs": 2, "policy": TAKEOVER}
    given[name] = value

    settings = Settings.from_json(json.dumps(given))

    expected = settings_dict(max_tabs=2, policy=TAKEOVER)
    expected[name] = DEFAULTS[name]
    assert (expected, 1, True) == (settings.to_dict(), len(settings.problems),
                                   name in settings.problems[0])


def test_from_json_lists_every_bad_field():
    """Several bad values give one problem each."""

    settings = Settings.from_json('{"max_tabs": -1, "policy": "x", "idle_timeout": "900", "extra": 1}')

    assert (DEFAULTS, 3) == (settings.to_dict(), len(settings.problems))


def test_from_json_warning_not_below_idle_falls_back_for_both():
    """A warning as long as the idle timeout is refused; both take their defaults."""

    settings = Settings.from_json('{"idle_timeout": 120, "warn_before": 120}')

    assert ((900, 60), 1) == ((settings.idle_timeout, settings.warn_before), len(settings.problems))


def test_from_json_accepts_a_long_warning_with_a_longer_idle_timeout():
    """idle 3600 with a 1200 s warning is valid together and must be kept."""

    settings = Settings.from_json('{"idle_timeout": 3600, "warn_before": 1200}')

    assert ((3600, 1200), []) == ((settings.idle_timeout, settings.warn_before), settings.problems)


def test_from_json_accepts_a_short_idle_timeout_with_a_shorter_warning():
    """idle 30 with a 10 s warning (what a quick end-to-end test asks for) must be kept."""

    settings = Settings.from_json('{"idle_timeout": 30, "warn_before": 10}')

    assert ((30, 10), []) == ((settings.idle_timeout, settings.warn_before), settings.problems)


def test_problems_of_direct_construction_are_empty():
    """Settings built directly from good values have no problems."""

    actual = Settings(**settings_dict(policy=BLOCK)).problems

    assert [] == actual


@pytest.mark.parametrize("name,value", [
    ("runtime", "cpython"),
    ("policy", "kick"),
    ("max_tabs", -1),
    ("max_tabs", True),
    ("max_tabs", "1"),
    ("idle_timeout", 0),
    ("idle_timeout", 90.5),
    ("warn_before", -1),
    ("warn_before", 900),
    ("absolute_timeout", MAX_SECONDS + 1),
])
def test_direct_construction_with_bad_value_raises(name, value):
    """Building Settings from bad values is a programming error: ValueError."""

    with pytest.raises(ValueError) as raised:
        Settings(**settings_dict(**{name: value}))

    assert name in str(raised.value)


def test_direct_construction_with_missing_field_raises():
    """Every field is required when building Settings directly."""
    values = settings_dict()
    del values["policy"]

    with pytest.raises(TypeError):
        Settings(**values)
