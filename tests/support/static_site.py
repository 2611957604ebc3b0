"""The README's static-host site (examples/static), laid out in a folder and served by
`python -m http.server` on 127.0.0.1: shared by tests/e2e/test_static_example.py and
bench/package.py, so both run the site the README describes.

    folder/index.html, login.html    the example's pages (`type="py"` for Pyodide)
    folder/pyscript.toml             the example's (interpreter line for the runtime), or `config`
    folder/favicon.ico               empty: the pages name no icon, and a 404 would log an error
    folder/vendor/<pyscript>, vendor/<interpreter>   links to this repository's vendor/
"""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "static"
VENDOR = ROOT / "vendor"
PYSCRIPT = "pyscript-0.7.31"
INTERPRETERS = {"micropython": "/vendor/micropython-1.27.0/micropython.mjs",
                "pyodide": "/vendor/pyodide-314.0.7/pyodide.mjs"}
START_TIMEOUT_S = 15


def lay_out(folder, runtime, config=None):
    """The site in `folder` (made here) for `runtime`; `config` replaces the example's pyscript.toml."""
    folder.mkdir(parents=True)
    for name in ("index.html", "login.html"):
        text = (EXAMPLE / name).read_text(encoding="utf-8")
        if runtime == "pyodide":
            if text.count('<script type="mpy"') != 1:
                raise ValueError(f"{name} no longer has one mpy script")
            text = text.replace('<script type="mpy"', '<script type="py"')
        (folder / name).write_text(text, encoding="utf-8")
    if config is None:
        config = (EXAMPLE / "pyscript.toml").read_text(encoding="utf-8")
        if INTERPRETERS["micropython"] not in config:
            raise ValueError("the example's pyscript.toml no longer names MicroPython's interpreter")
        config = config.replace(INTERPRETERS["micropython"], INTERPRETERS[runtime])
    (folder / "pyscript.toml").write_text(config, encoding="utf-8")
    (folder / "favicon.ico").write_bytes(b"")
    (folder / "vendor").mkdir()
    for part in (PYSCRIPT, INTERPRETERS[runtime].split("/")[2]):
        (folder / "vendor" / part).symlink_to(VENDOR / part)


def serve(folder):
    """(process, origin): `python -m http.server` for `folder` on a free port, answering."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                               cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(origin + "/pyscript.toml", timeout=2):
                return process, origin
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError(f"python -m http.server did not start for {folder} on port {port}")
            time.sleep(0.1)


def stop(process):
    """Stop a server `serve` started, by its PID."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
