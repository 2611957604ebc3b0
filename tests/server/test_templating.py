"""The pages and pyscript.toml as serve.py templates them for each runtime, edits shown without a
restart, and broken templates.
"""

import json
import re

import pytest

from serve_support import (
    CONFIG_TEMPLATE,
    MICROPYTHON_INTERPRETER,
    PAGE_TEMPLATE,
    PYODIDE_INTERPRETER,
    build_tree,
    request,
    serve,
    serving,
    without_settings,
    write,
)


@pytest.mark.parametrize("target, title", [("/", "Index"), ("/login", "Index")])
def test_micropython_page_is_the_template_with_settings(server, target, title):
    """For MicroPython the page is its file with only the settings' JSON replaced (one document,
    index.html, for both paths: the tab goes between them in place)."""
    expected = without_settings(PAGE_TEMPLATE.replace("TITLE", title).encode())

    actual = without_settings(request(server.port, target).body)

    assert expected == actual


@pytest.mark.parametrize("target, title", [("/", "Index"), ("/login", "Index")])
def test_pyodide_page_boots_pyodide(pyodide_server, target, title):
    """For Pyodide the entry point becomes `<script type="py"`, and nothing else changes."""
    template = PAGE_TEMPLATE.replace("TITLE", title).replace('<script type="mpy"', '<script type="py"')
    expected = without_settings(template.encode())

    actual = without_settings(request(pyodide_server.port, target).body)

    assert expected == actual


def test_micropython_config_names_micropython(server):
    """pyscript.toml is served as written for MicroPython."""
    expected = CONFIG_TEMPLATE

    actual = request(server.port, "/pyscript.toml").body.decode()

    assert expected == actual


def test_pyodide_config_names_pyodide(pyodide_server):
    """For Pyodide, pyscript.toml's interpreter line names Pyodide; the rest is untouched."""
    expected = CONFIG_TEMPLATE.replace(MICROPYTHON_INTERPRETER, PYODIDE_INTERPRETER)

    actual = request(pyodide_server.port, "/pyscript.toml").body.decode()

    assert expected == actual


def test_settings_json_cannot_close_its_script_element():
    """Characters that could end the <script> element or start markup are escaped in the JSON."""
    settings = {"runtime": "</script><script>alert(1)</script>", "policy": "a & b > c"}
    expected = (settings, [])

    text = serve.settings_json(settings)

    actual = (json.loads(text), re.findall(r"[<>&]", text))
    assert expected == actual


def test_edited_templates_show_without_restart(tmp_path):
    """A page edited while the server runs is served edited on the next request."""
    root = build_tree(tmp_path / "root", tmp_path / "outside", pyodide=False)
    with serving(root, tmp=tmp_path) as running:
        request(running.port, "/")
        write(root / "index.html", PAGE_TEMPLATE.replace("TITLE", "Edited"))
        expected = "<title>Edited</title>"

        actual = re.search(r"<title>.*</title>", request(running.port, "/").body.decode()).group(0)

    assert expected == actual


@pytest.mark.parametrize(
    "file, content, target, problem",
    [
        ("index.html", "<html><script type=\"mpy\"></script></html>", "/login",
         'index.html: expected exactly one <script type="application/json" id="tabsession-settings">'),
        ("index.html", PAGE_TEMPLATE.replace('<script type="mpy"', "<script"), "/",
         'index.html: expected exactly one <script type="mpy" tag, found 0'),
        ("index.html", PAGE_TEMPLATE + '<script type="mpy" src="./app/pkg/y.py"></script>', "/",
         'index.html: expected exactly one <script type="mpy" tag, found 2'),
        ("pyscript.toml", "[files]\n", "/pyscript.toml",
         "pyscript.toml: expected exactly one interpreter line, found 0"),
        ("index.html", b"\xff\xfe not UTF-8", "/login", "index.html: not UTF-8"),
    ],
)
def test_broken_template_is_a_500_naming_the_problem(tmp_path, file, content, target, problem):
    """A template missing what is replaced answers 500 and says why, and the server carries on."""
    root = build_tree(tmp_path / "root", tmp_path / "outside", pyodide=False)
    write(root / file, content)
    with serving(root, tmp=tmp_path) as running:
        broken = request(running.port, target)
        after = request(running.port, "/app/x.py")
        stderr = running.stderr()
    expected = (500, True, True, 200)

    actual = (broken.status, problem in broken.body.decode(), problem in stderr, after.status)

    assert expected == actual, (broken.body, stderr)
