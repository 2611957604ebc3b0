"""Run a few of the library's pure modules in the pages' own MicroPython, under Node.

For rules that must hold alike on every runtime (the name rule, the records' widths): the
vendored MicroPython when set-up has copied it, else the npm package's. A test that needs it
fails, saying what to run, when neither exists; it is skipped only where Node is missing.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "app" / "tabsession"
MICROPYTHON_MODULES = (
    ROOT / "vendor" / "micropython-1.27.0" / "micropython.mjs",
    ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs",
)

_RUN = """
import { loadMicroPython } from %(module)s;
const out = [];
const mp = await loadMicroPython({ stdout: (line) => out.push(line), stderr: (line) => out.push(line) });
for (const folder of %(folders)s) mp.FS.mkdir(folder);
for (const [path, text] of Object.entries(%(files)s)) mp.FS.writeFile(path, text);
try {
  mp.runPython(%(python)s);
} catch (error) {
  out.push("error: " + error.message);
}
console.log(JSON.stringify(out));
"""


def micropython_module():
    if shutil.which("node") is None:
        pytest.skip("no node on PATH: running the library in MicroPython needs Node")
    for module in MICROPYTHON_MODULES:
        if module.is_file():
            return module
    pytest.fail("no MicroPython to run: neither " + " nor ".join(map(str, MICROPYTHON_MODULES))
                + " exists (run ./dev setup, or npm ci)", pytrace=False)


def run_in_micropython(modules, python):
    """What `python` prints, one line, run in MicroPython beside `modules` (paths under
    app/tabsession/, such as "core/names.py"; the packages' `__init__` files come along)."""
    module = micropython_module()
    files = {"/tabsession/__init__.py": ""}
    folders = ["/tabsession"]
    for name in modules:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/tabsession/" + "/".join(parts[:depth])
            if folder not in folders:
                folders.append(folder)
                init = PACKAGE.joinpath(*parts[:depth], "__init__.py")
                files[folder + "/__init__.py"] = init.read_text(encoding="utf-8") if init.is_file() else ""
        files["/tabsession/" + name] = PACKAGE.joinpath(*parts).read_text(encoding="utf-8")
    script = _RUN % {"module": json.dumps(module.as_uri()), "folders": json.dumps(folders),
                     "files": json.dumps(files), "python": json.dumps(python)}
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True,
                          timeout=60)
    assert 0 == done.returncode, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert 1 == len(out) and not out[0].startswith("error"), "\n".join(out)
    return out[0]
