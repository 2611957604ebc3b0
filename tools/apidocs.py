#!/usr/bin/env python3
"""Build the HTML API reference of the library (app/tabsession/) from its docstrings, with pdoc.

    .venv/bin/python tools/apidocs.py [--out DIR]        (or: ./dev docs [--out DIR])

writes DIR/index.html (default build/api/, never committed) and a page for each module:
tabsession, tabsession.api, and the core, browser and server packages with all their modules
(pdoc walks every public submodule of ``tabsession``). Pages go into DIR only when the build
succeeds; a page of a module since removed stays there until DIR is deleted.

The build fails (exit status 1, each problem on standard error) on:
- a module that does not import (pdoc stops), and any warning while pdoc runs (an annotation
  it cannot read...). Warnings are recorded rather than raised, so one run names them all, and
  none can be swallowed by an ``except Exception`` inside pdoc;
- a broken reference: a code span of a docstring naming ``tabsession.something`` (or a relative
  ``.something``, which pdoc reads as a module next to this one) that pdoc cannot link to a
  documented object. pdoc 16 leaves such a name as plain code without a word, so this script
  looks at every docstring pdoc links. Short names such as ``records.latest_time`` or
  ``session.state`` are code, not references: they are not checked.

The browser half imports ``pyscript``, which only a browser has. For the build only, a stand-in
``pyscript`` package is written to a temporary directory put first on sys.path: it has what the
browser modules use at import time (``document``, ``window.Function`` for interop.py's
``helpers``, ``ffi.create_proxy`` and ``ffi.is_none``) and nothing more, so an import of
anything else fails the build instead of documenting a made-up value. The server half imports
Starlette and redis, which .venv has.
"""

import argparse
import gc
import logging
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import pdoc
import pdoc.render
from jinja2 import pass_context

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
DEFAULT_OUT = ROOT / "build" / "api"
MODULES = ("tabsession",)

STAND_IN = {
    "pyscript/__init__.py": '''\
"""Stand-in for PyScript's ``pyscript`` module: tools/apidocs.py only, never in a page."""


class JSObject:
    """A JavaScript value: the reference shows it as one."""

    def __repr__(self):
        return "<JavaScript object>"


class Window(JSObject):
    def Function(self, source):
        """``new Function(source)``: interop.py makes its ``helpers`` with it at import."""
        return lambda: JSObject()


window = Window()
document = JSObject()
''',
    "pyscript/ffi.py": '''\
"""Stand-in for ``pyscript.ffi``: tools/apidocs.py only."""


def create_proxy(function):
    return function


def is_none(value):
    return value is None
''',
}

# A name inside a code span of pdoc's output that no link replaced: "<code>tabsession.x</code>".
UNLINKED = re.compile(r"<code>(\.*[A-Za-z_]\w*(?:\.\w+)*(?:\(\))?)</code>")


class Recorder(logging.Handler):
    """Keeps the warnings pdoc's loggers give (pdoc 16 gives none there: it uses ``warnings``)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def checking_linkify(linkify, roots, problems):
    """pdoc's ``linkify`` filter, and a problem for each reference it leaves unlinked."""

    @pass_context
    def linkify_and_check(context, code, namespace="", shorten=True):
        html = linkify(context, code, namespace=namespace, shorten=shorten)
        for match in UNLINKED.finditer(html):
            name = match.group(1)
            if name.startswith(".") or name.split(".")[0] in roots:
                where = ".".join(filter(None, (context["module"].modulename, namespace)))
                problems.append(f"{where}: broken reference ``{name}``: no documented object has that name")
        return html

    return linkify_and_check


def write_stand_in(directory):
    for name, source in STAND_IN.items():
        path = Path(directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


def build(modules=MODULES, out=DEFAULT_OUT, path=(APP,)):
    """Build the reference of ``modules`` (names pdoc imports from ``path``) into ``out``.

    Returns ``(pages, problems)``: the pages' paths relative to ``out``, and what fails the build
    (empty: none). ``out`` is written only when there is no problem. Afterwards sys.path and
    pdoc's link filter are as they were, and neither the stand-in nor a documented module stays
    imported (nor in pdoc's cache), so a later build reads the modules afresh.
    """
    roots = {name.split(".")[0] for name in modules}
    problems = []
    recorder = Recorder()
    pdoc_logger = logging.getLogger("pdoc")
    linkify = pdoc.render.env.filters["linkify"]
    saved_path = list(sys.path)
    imported_before = set(sys.modules)
    with tempfile.TemporaryDirectory(prefix="apidocs-") as scratch:
        stand_in = Path(scratch) / "stand-in"
        pages_dir = Path(scratch) / "pages"
        write_stand_in(stand_in)
        sys.path[:0] = [str(stand_in), *map(str, path)]
        pdoc_logger.addHandler(recorder)
        pdoc.render.env.filters["linkify"] = checking_linkify(linkify, roots, problems)
        try:
            gc.collect()  # what earlier code left for the collector warns now, not during the build
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # A ResourceWarning is the garbage collector finding a socket or file someone
                # else left open (in CI: earlier tests' Redis connections, collected mid-build),
                # never something about the docs.
                warnings.simplefilter("ignore", ResourceWarning)
                # No "View Source": the sources are app/tabsession/ itself, and the pages would
                # take twice the room and the build twice the time (it runs in every CI run).
                pdoc.render.configure(docformat="restructuredtext", show_source=False)
                try:
                    pdoc.pdoc(*modules, output_directory=pages_dir)
                except Exception as error:
                    problems.append("pdoc stopped: " + "".join(traceback.format_exception(error)).rstrip())
        finally:
            pdoc.render.env.filters["linkify"] = linkify
            pdoc_logger.removeHandler(recorder)
            sys.path[:] = saved_path
            for name in set(sys.modules) - imported_before:
                if name.split(".")[0] in roots | {"pyscript"}:
                    del sys.modules[name]
            pdoc.doc.Module.from_name.cache_clear()  # pdoc keeps each module it read, by name
        problems[:0] = [f"pdoc warned: {item.category.__name__}: {item.message}" for item in caught]
        problems[:0] = [f"pdoc logged: {record.name}: {record.getMessage()}" for record in recorder.records]
        problems = list(dict.fromkeys(problems))  # a docstring shown twice is one problem
        pages = sorted(page.relative_to(pages_dir).as_posix() for page in pages_dir.rglob("*.html"))
        if not problems:
            shutil.copytree(pages_dir, out, dirs_exist_ok=True)
    return pages, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the HTML API reference of tabsession with pdoc.")
    parser.add_argument("--out", metavar="DIR", type=Path, default=DEFAULT_OUT,
                        help="folder for the pages (default: build/api/ of the repository)")
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    pages, problems = build(out=arguments.out)
    seconds = time.monotonic() - started
    if problems:
        for problem in problems:
            print(f"apidocs: {problem}", file=sys.stderr)
        print(f"apidocs: {len(problems)} problem(s): nothing written to {arguments.out}", file=sys.stderr)
        return 1
    print(f"{arguments.out / 'index.html'}: {len(pages)} pages, {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
