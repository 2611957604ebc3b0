"""serve.py's command line: its options and their checks, the first line it prints, starting
and stopping, --open and --verbose.
"""

import os
import signal
import time

import pytest

from serve_support import (
    DEFAULT_SETTINGS,
    FIRST_LINE,
    PAGE_TEMPLATE,
    PYODIDE_SETTINGS,
    build_tree,
    request,
    run_serve,
    serve,
    serving,
    settings_of,
    start,
    stop,
    write,
)


def test_option_defaults_match_the_contract():
    """Every option's default is the documented one (the README's "Options", which docs/rules.md
    names as the command line's description)."""
    expected = {
        "host": "127.0.0.1", "port": 8000, "runtime": "micropython", "max_tabs": 1,
        "policy": "block", "idle_timeout": 900, "warn_before": 60, "absolute_timeout": 28800,
        "authority": "server", "store": "memory", "workers": 1, "allow_host": [],
        "open": False, "verbose": False, "root": None,
    }

    actual = vars(serve.parse_options(serve.build_parser(), []))

    assert expected == actual


def test_first_line_names_the_url_and_the_default_options(server):
    """The first line is `Serving http://HOST:PORT/ (...)` with the real port and the defaults."""
    expected = f"Serving http://127.0.0.1:{server.port}/ (runtime=micropython, policy=block, max-tabs=1)"

    actual = server.first_line

    assert expected == actual
    assert server.port > 0


def test_first_line_names_the_chosen_options(pyodide_server):
    """The first line follows --runtime, --policy and --max-tabs."""
    expected = ("pyodide", "takeover", "3")

    actual = FIRST_LINE.fullmatch(pyodide_server.first_line).group(2, 3, 4)

    assert expected == actual


def test_default_settings_reach_the_page(server):
    """Without options, the page's settings are the contract's defaults."""
    expected = DEFAULT_SETTINGS

    actual = settings_of(request(server.port, "/").body)

    assert expected == actual


def test_every_option_reaches_the_page(pyodide_server):
    """Each option's value reaches the page's settings."""
    expected = PYODIDE_SETTINGS

    actual = settings_of(request(pyodide_server.port, "/login").body)

    assert expected == actual


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["--port", "abc"], "argument --port: expected a whole number, got 'abc'"),
        (["--port", "-1"], "argument --port: must be from 0 to 65535, got -1"),
        (["--port", "65536"], "argument --port: must be from 0 to 65535, got 65536"),
        (["--port", "80.5"], "argument --port: expected a whole number"),
        (["--host", ""], "argument --host: must not be empty"),
        (["--runtime", "cpython"], "argument --runtime: invalid choice: 'cpython'"),
        (["--runtime", "MicroPython"], "argument --runtime: invalid choice"),
        (["--policy", "steal"], "argument --policy: invalid choice: 'steal'"),
        (["--max-tabs", "-1"], "argument --max-tabs: must be from 0 to 1000, got -1"),
        (["--max-tabs", "1.5"], "argument --max-tabs: expected a whole number, got '1.5'"),
        (["--max-tabs", "1001"], "argument --max-tabs: must be from 0 to 1000, got 1001"),
        (["--max-tabs", "1_0"], "argument --max-tabs: expected a whole number"),
        (["--max-tabs", "１"], "argument --max-tabs: expected a whole number"),
        (["--max-tabs", ""], "argument --max-tabs: expected a whole number"),
        (["--idle-timeout", "0"], "argument --idle-timeout: must be from 1 to 2678400"),
        (["--idle-timeout", "-5"], "argument --idle-timeout: must be from 1"),
        (["--idle-timeout", "ten"], "argument --idle-timeout: expected a whole number"),
        (["--idle-timeout", "99999999999999999999"], "argument --idle-timeout: must be from 1"),
        (["--warn-before", "-1"], "argument --warn-before: must be from 0"),
        (["--warn-before", "x"], "argument --warn-before: expected a whole number"),
        (["--warn-before", "900"], "argument --warn-before: must be less than --idle-timeout"),
        (["--idle-timeout", "30", "--warn-before", "60"], "must be less than --idle-timeout (60 >= 30)"),
        (["--absolute-timeout", "0"], "argument --absolute-timeout: must be from 1"),
        (["--absolute-timeout", "2678401"], "argument --absolute-timeout: must be from 1 to 2678400"),
        (["--absolute-timeout", "1e3"], "argument --absolute-timeout: expected a whole number"),
        (["--max"], "unrecognized arguments: --max"),  # no abbreviations
        (["--nope"], "unrecognized arguments: --nope"),
        (["extra"], "unrecognized arguments: extra"),
        (["--port"], "argument --port: expected one argument"),
        (["--authority", "tabs"], "argument --authority: invalid choice: 'tabs'"),
        (["--store", "disk"], "argument --store: expected memory, sqlite:PATH or redis://HOST:PORT/DB"),
        (["--store", "sqlite:"], "argument --store: expected memory, sqlite:PATH"),
        # A store that cannot be opened or reached at start (CONTRACT: one line, non-zero exit).
        (["--store", "sqlite:/nonexistent-folder/s.db"], "argument --store: cannot open sqlite:/nonexistent-folder/s.db"),
        (["--store", "sqlite:/proc/version"], "argument --store: cannot open sqlite:/proc/version"),
        (["--store", "redis://127.0.0.1:1/0"], "argument --store: cannot open redis://127.0.0.1:1/0"),
        (["--store", "redis://"], "argument --store: expected memory, sqlite:PATH"),
        (["--workers", "2"], "argument --workers: several processes need a shared store"),
        (["--workers", "0"], "argument --workers: must be from 1 to 64"),
        (["--workers", "65"], "argument --workers: must be from 1 to 64"),
    ],
)
def test_bad_option_gives_usage_and_one_line(arguments, named):
    """A bad option: the usage line, one line naming the problem, no traceback, exit 2."""
    expected = (2, "", "usage: serve.py [options]", True, 2)

    result = run_serve(*arguments)
    lines = result.stderr.splitlines()

    actual = (result.returncode, result.stdout, lines[0], named in lines[1], len(lines))
    assert expected == actual, result.stderr


@pytest.mark.parametrize(
    "arguments, option, value",
    [
        (["--port", "0"], "port", 0),
        (["--port", "65535"], "port", 65535),
        (["--max-tabs", "0"], "max_tabs", 0),
        (["--max-tabs", "1000"], "max_tabs", 1000),
        (["--max-tabs=+2"], "max_tabs", 2),
        (["--warn-before", "0"], "warn_before", 0),
        (["--idle-timeout", "2678400", "--warn-before", "2678399"], "warn_before", 2678399),
        (["--idle-timeout", "1", "--warn-before", "0"], "idle_timeout", 1),
        (["--absolute-timeout", "2678400"], "absolute_timeout", 2678400),
        (["--runtime", "pyodide"], "runtime", "pyodide"),
        (["--policy", "takeover"], "policy", "takeover"),
        (["--host", "::1"], "host", "::1"),
        (["--authority", "browser"], "authority", "browser"),
        (["--store", "memory"], "store", "memory"),
    ],
)
def test_edge_values_are_accepted(arguments, option, value):
    """Values at the edges of each range are accepted as given."""
    expected = value

    actual = getattr(serve.parse_options(serve.build_parser(), arguments), option)

    assert expected == actual


def test_help_lists_every_option():
    """--help documents every option, --root as a test aid, and exits 0."""
    expected = (0, True)

    result = run_serve("--help")
    names = ["--host", "--port", "--runtime", "--max-tabs", "--policy", "--idle-timeout",
             "--warn-before", "--absolute-timeout", "--authority", "--store", "--open", "--verbose",
             "--root DIR", "(for tests)"]

    actual = (result.returncode, all(name in result.stdout for name in names))
    assert expected == actual, result.stdout


def test_port_in_use_is_refused(server, tree):
    """A second server on a port in use: usage line, one line saying so, exit 2."""
    expected = (
        2,
        "usage: serve.py [options]\n"
        f"serve.py: error: argument --port: 127.0.0.1 port {server.port} is already in use\n",
    )

    result = run_serve("--port", str(server.port), "--root", str(tree))

    actual = (result.returncode, result.stderr)
    assert expected == actual


def test_unknown_host_is_refused(tree):
    """A host that cannot be bound: usage line, one line naming it, exit 2."""
    expected = (2, "usage: serve.py [options]", True, 2)

    result = run_serve("--host", "no.such.host.invalid", "--port", "0", "--root", str(tree))
    lines = result.stderr.splitlines()

    actual = (result.returncode, lines[0], lines[1].startswith(
        "serve.py: error: cannot listen on no.such.host.invalid port 0: "), len(lines))
    assert expected == actual, result.stderr


def test_missing_vendor_folder_names_dev_setup(tmp_path):
    """Without `./dev setup`: one line naming it on standard error, nothing served, exit 1."""
    write(tmp_path / "index.html", PAGE_TEMPLATE)
    expected = (
        1,
        "",
        "serve.py: error: the micropython runtime is not set up (vendor/pyscript-0.7.31/core.js "
        f"and 2 more missing under {tmp_path.resolve()}); run ./dev setup first\n",
    )

    result = run_serve("--port", "0", "--root", str(tmp_path))

    actual = (result.returncode, result.stdout, result.stderr)
    assert expected == actual


def test_missing_pyodide_files_only_stop_pyodide(tmp_path):
    """A tree set up without Pyodide refuses --runtime pyodide and names the first missing file."""
    root = build_tree(tmp_path / "root", tmp_path / "outside", pyodide=False)
    expected = (1, True, True)

    result = run_serve("--port", "0", "--root", str(root), "--runtime", "pyodide")

    actual = (
        result.returncode,
        "(vendor/pyodide-314.0.7/pyodide.mjs and 4 more missing" in result.stderr,
        result.stderr.endswith("; run ./dev setup first\n"),
    )
    assert expected == actual, result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stopping_is_quiet(tree, tmp_path, signum):
    """Ctrl-C (or a plain kill) stops the server with exit 0 and nothing on standard error."""
    running = start(tree, tmp=tmp_path)
    request(running.port, "/")
    expected = (0, "")

    actual = (stop(running, signum), running.stderr())

    assert expected == actual


def test_open_starts_the_browser_at_the_url(tree, tmp_path):
    """--open hands the served URL to the default browser ($BROWSER here) once listening."""
    opened = tmp_path / "opened.txt"
    browser = write(tmp_path / "browser", f'#!/bin/sh\nprintf "%s" "$1" > "{opened}.part"\n'
                                         f'mv "{opened}.part" "{opened}"\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser)}

    with serving(tree, "--open", tmp=tmp_path, env=env) as running:
        deadline = time.monotonic() + 5
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        expected = f"http://127.0.0.1:{running.port}/"

        actual = opened.read_text() if opened.exists() else None

    assert expected == actual


def test_requests_are_not_logged_by_default(server):
    """Without --verbose, serving requests prints nothing on standard error."""
    request(server.port, "/")
    request(server.port, "/nope")
    expected = ""

    actual = server.stderr()

    assert expected == actual


def test_verbose_logs_each_request(tree, tmp_path):
    """--verbose logs one line per request to standard error."""
    with serving(tree, "--verbose", tmp=tmp_path) as running:
        request(running.port, "/login?next=%2F")
        request(running.port, "/nope")
        time.sleep(0.1)
        stderr = running.stderr()
    expected = (True, True)

    actual = ('"GET /login?next=%2F HTTP/1.1" 200' in stderr, '"GET /nope HTTP/1.1" 404' in stderr)

    assert expected == actual, stderr
