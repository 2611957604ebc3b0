#!/usr/bin/env python3
"""Copy the three browser runtimes from node_modules/ into vendor/, where serve.py serves them.

Owns vendor/ (never committed). `npm ci` fills node_modules/ from package-lock.json; this script
then lays out one folder per runtime, named after the version in that package's own package.json:

    vendor/pyscript-<v>/     every file of @pyscript/core/dist/ except source maps
    vendor/micropython-<v>/  micropython.mjs, micropython.wasm
    vendor/pyodide-<v>/      pyodide.mjs, pyodide.asm.mjs, pyodide.asm.wasm, python_stdlib.zip,
                             pyodide-lock.json

It is idempotent (a file whose size and modification time already match is left alone), removes
files that do not belong in those folders and folders of other versions of the same runtimes, and
copies nothing else. Standard library only: it runs before any virtual environment exists.
"""

import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "vendor"

# (vendor folder prefix, npm package, folder inside the package, files or None for "all but *.map")
RUNTIMES = (
    ("pyscript", "@pyscript/core", "dist", None),
    ("micropython", "@micropython/micropython-webassembly-pyscript", "", ("micropython.mjs", "micropython.wasm")),
    (
        "pyodide",
        "pyodide",
        "",
        ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"),
    ),
)


class VendorError(Exception):
    """node_modules/ is missing, incomplete or does not match package.json."""


def _missing(what):
    return VendorError(f"{what}: run `npm ci` in {ROOT} (or `./dev setup`) first")


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise _missing(f"{path.relative_to(ROOT)} not found") from None


def _pinned_versions():
    """The versions package.json asks for, so a stale node_modules/ is caught here, not in a browser."""
    return _read_json(ROOT / "package.json").get("dependencies", {})


def _sources(package_dir, subfolder, names):
    """The files to copy, as {name: source path}; raises VendorError naming `npm ci` if any is missing."""
    folder = package_dir / subfolder if subfolder else package_dir
    if names is None:
        if not folder.is_dir():
            raise _missing(f"{folder.relative_to(ROOT)} not found")
        sources = {}
        for entry in sorted(folder.iterdir()):
            if entry.name.endswith(".map"):
                continue
            if entry.is_dir():
                # serve.py serves vendor/<folder>/<file> only, one level deep.
                raise VendorError(
                    f"{entry.relative_to(ROOT)} is a folder; vendor/ holds one level of files only "
                    "(has the package's layout changed?)"
                )
            sources[entry.name] = entry
        if not sources:
            raise _missing(f"{folder.relative_to(ROOT)} is empty")
        return sources
    sources = {name: folder / name for name in names}
    absent = [str(path.relative_to(ROOT)) for path in sources.values() if not path.is_file()]
    if absent:
        raise _missing("missing " + ", ".join(absent))
    return sources


def _same_file(source, target):
    try:
        a, b = source.stat(), target.stat()
    except FileNotFoundError:
        return False
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def _copy(source, target):
    """Copy through a temporary name so an interrupted run never leaves a half-written file."""
    partial = target.with_name(target.name + ".partial")
    shutil.copy2(source, partial)
    os.replace(partial, target)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def vendor():
    """Bring vendor/ in line with node_modules/; returns the one-line summary."""
    pinned = _pinned_versions()
    plan = []  # (folder name, {file name: source})
    for prefix, package, subfolder, names in RUNTIMES:
        package_dir = NODE_MODULES / package
        version = _read_json(package_dir / "package.json")["version"]
        wanted = pinned.get(package)
        if wanted is not None and wanted != version:
            raise VendorError(
                f"node_modules has {package} {version} but package.json pins {wanted}: "
                f"run `npm ci` in {ROOT} (or `./dev setup`)"
            )
        plan.append((prefix, f"{prefix}-{version}", _sources(package_dir, subfolder, names)))

    VENDOR.mkdir(exist_ok=True)
    copied = unchanged = removed = 0
    for prefix, folder_name, sources in plan:
        for stale in VENDOR.glob(prefix + "-*"):
            if stale.name != folder_name:
                _remove(stale)
                removed += 1
        folder = VENDOR / folder_name
        folder.mkdir(exist_ok=True)
        for entry in folder.iterdir():
            if entry.name not in sources:
                _remove(entry)
                removed += 1
        for name, source in sources.items():
            target = folder / name
            if _same_file(source, target):
                unchanged += 1
            else:
                _copy(source, target)
                copied += 1

    folders = ", ".join(f"{name} ({len(sources)} files)" for _, name, sources in plan)
    return f"vendor: {folders}; {copied} copied, {unchanged} unchanged, {removed} removed"


def main():
    try:
        print(vendor())
    except VendorError as error:
        print(f"tools/vendor.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
