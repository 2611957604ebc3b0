"""The core stays pure: it imports only json and itself, so it runs on CPython, MicroPython and Pyodide."""

import ast
import io
import os
import re
import tokenize

import pytest

CORE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "app", "tabsession", "core")
MODULES = sorted(name for name in os.listdir(CORE) if name.endswith(".py"))
ALLOWED = ("json",)
CORE_PACKAGE = "tabsession.core"
# Built-ins that reach outside the process or run text as code.
FORBIDDEN_NAMES = ("open", "eval", "exec", "compile", "__import__", "input", "globals", "breakpoint")


def parse(name):
    with open(os.path.join(CORE, name), encoding="utf-8") as source:
        return ast.parse(source.read(), filename=name)


def imported_modules(tree):
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
    return found


def is_allowed(module):
    return module in ALLOWED or module == CORE_PACKAGE or module.startswith(CORE_PACKAGE + ".")


def test_the_core_has_modules():
    """The purity checks below really look at something."""

    actual = {"machine.py", "records.py", "urls.py", "settings.py", "wire.py"} <= set(MODULES)

    assert True is actual


@pytest.mark.parametrize("name", MODULES)
def test_core_imports_only_json_and_itself(name):
    """No js, pyscript, pyodide, time, random, os, sys, dataclasses, typing, enum, __future__..."""

    actual = [module for module in imported_modules(parse(name)) if not is_allowed(module)]

    assert [] == actual


# The self-documenting f-string form: an '=' (not part of ==, !=, <=, >=) right before '}', '!' or ':'.
SELF_DOCUMENTING = re.compile(r"[^=!<>]=\s*(![rsa])?(:[^{}]*)?}")


def f_strings(name):
    with open(os.path.join(CORE, name), encoding="utf-8") as source:
        tokens = tokenize.generate_tokens(io.StringIO(source.read()).readline)
        return [token.string for token in tokens if token.type == tokenize.STRING
                and re.match(r"[a-zA-Z]*[fF]", token.string)]


@pytest.mark.parametrize("name", MODULES)
def test_core_uses_no_syntax_micropython_lacks(name):
    """No match statements, walrus or async code (MicroPython and PyScript's shims lack them)."""
    kinds = (ast.NamedExpr, ast.AsyncFunctionDef, ast.Await) + \
        ((ast.Match,) if hasattr(ast, "Match") else ())

    actual = sorted({type(node).__name__ for node in ast.walk(parse(name)) if isinstance(node, kinds)})

    assert [] == actual


@pytest.mark.parametrize("name", MODULES)
def test_core_uses_no_self_documenting_f_strings(name):
    """No f"{x=}" (MicroPython does not support the '=' specifier)."""

    actual = [text for text in f_strings(name) if SELF_DOCUMENTING.search(text)]

    assert [] == actual


def test_self_documenting_f_string_check_works():
    """The check above finds f"{x=}" and lets comparisons through."""
    pattern = SELF_DOCUMENTING

    actual = [bool(pattern.search(text)) for text in
              ('f"{x=}"', 'f"{x = !r}"', 'f"{x=:>4}"', 'f"{a == b}"', 'f"{a != b}"', 'f"{a}"')]

    assert [True, True, True, False, False, False] == actual


@pytest.mark.parametrize("name", MODULES)
def test_core_calls_no_io_builtins(name):
    """No file access, dynamic code or dynamic imports in the core."""

    actual = sorted({node.id for node in ast.walk(parse(name))
                     if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES})

    assert [] == actual
