"""What a page pays for each way of getting the library (issue 17): the wheel, its sources, a bundle.

    .venv/bin/python bench/package.py [--loads 8] [--runtimes micropython pyodide] [--json FILE]

For each runtime it lays out the README's static site (examples/static: index.html, login.html,
pyscript.toml, vendor/) once per way of shipping the library, and serves each with
`python -m http.server` on 127.0.0.1:

- `wheel`: the README's way, `"./tabsession-<v>-py3-none-any.whl" = "./*"`, built now with
  `python -m build --wheel --no-isolation`; PyScript fetches the one file and unpacks it;
- `sources`: every `.py` of the library listed in `[files]`, as the "Copying the files" section
  does (one request per module);
- `bundle` (MicroPython only): the one bytecode file tools/precompile.py makes, as serve.py's
  demo uses it (`vendor/mpy-1.27.0/tabsession-<digits>.mpy` = `./tabsession/__init__.mpy`).

Each load is a fresh Chromium context (nothing cached) opening `/login.html` signed out: the
time from the navigation's start to the page's first decision (`data-tab-state` leaving
`booting`, stamped in the page by a MutationObserver installed before any script), then the
same page reloaded in that context (warm: from the browser's cache). Also per load: the bytes
the page fetched for the library (`performance.getEntriesByType("resource")`, decoded sizes),
and the number of those requests. A measurement, not a test: it asserts nothing about times.
Results: docs/bench/package/results.md.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests" / "support") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "support"))

import static_site  # noqa: E402  (tests/support/: the README's static site, laid out and served)
from static_site import INTERPRETERS  # noqa: E402

LIBRARY = ROOT / "app" / "tabsession"
VENDOR = ROOT / "vendor"
CHROMIUM = os.environ.get("TABSESSION_BROWSER", "/usr/bin/chromium")
MODES = {"micropython": ("wheel", "sources", "bundle"), "pyodide": ("wheel", "sources")}

STAMP_DECISION = """
(() => {
  new MutationObserver((changes, observer) => {
    const state = document.documentElement.dataset.tabState;
    if (state && state !== "booting" && !window.__decidedAt) {
      window.__decidedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-tab-state"]});
})();
"""
LIBRARY_BYTES = """() => {
  const mine = performance.getEntriesByType("resource").filter(
    (entry) => /tabsession|\\.whl$|\\.mpy$/.test(new URL(entry.name).pathname));
  return [mine.length, mine.reduce((sum, entry) => sum + entry.decodedBodySize, 0)];
}"""


def build_wheel(out):
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    return next(out.glob("tabsession-*.whl"))


def library_files():
    return sorted(path.relative_to(LIBRARY.parent).as_posix() for path in LIBRARY.rglob("*.py")
                  if "__pycache__" not in path.parts)


def config_for(runtime, mode, wheel):
    lines = [f'interpreter = "{INTERPRETERS[runtime]}"', "", "[files]"]
    if mode == "wheel":
        lines.append(f'"./{wheel.name}" = "./*"')
    elif mode == "sources":
        lines += [f'"./{name}" = "./{name}"' for name in library_files()]
    else:
        lines.append('"./tabsession.mpy" = "./tabsession/__init__.mpy"')
    return "\n".join(lines) + "\n"


def lay_out(folder, runtime, mode, wheel):
    static_site.lay_out(folder, runtime, config=config_for(runtime, mode, wheel))
    if mode == "wheel":
        shutil.copy(wheel, folder / wheel.name)
    elif mode == "sources":
        shutil.copytree(LIBRARY, folder / "tabsession", ignore=shutil.ignore_patterns("__pycache__"))
    else:
        bundles = sorted((VENDOR / "mpy-1.27.0").glob("tabsession-*.mpy"), key=lambda path: path.stat().st_mtime)
        if not bundles:
            raise SystemExit("no MicroPython bundle: run .venv/bin/python tools/precompile.py first")
        shutil.copy(bundles[-1], folder / "tabsession.mpy")


def decided(page, timeout_s):
    page.wait_for_function("() => window.__decidedAt !== undefined", timeout=timeout_s * 1000)
    return page.evaluate("() => window.__decidedAt")


def measure(browser, origin, loads, timeout_s):
    cold, warm, requests, sizes = [], [], [], []
    for _ in range(loads):
        context = browser.new_context()
        context.add_init_script(script=STAMP_DECISION)
        page = context.new_page()
        page.goto(origin + "/login.html")
        cold.append(decided(page, timeout_s))
        count, size = page.evaluate(LIBRARY_BYTES)
        requests.append(count)
        sizes.append(size)
        page.reload()
        warm.append(decided(page, timeout_s))
        context.close()
    return {"cold_ms": cold, "warm_ms": warm, "library_requests": requests, "library_bytes": sizes}


def load_average():
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=8)
    parser.add_argument("--runtimes", nargs="+", default=["micropython", "pyodide"], choices=sorted(MODES))
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    results = {"loads": options.loads, "load_average_before": load_average(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="tabsession-package-") as scratch:
        scratch = Path(scratch)
        wheel = build_wheel(scratch / "dist")
        results["wheel_bytes"] = wheel.stat().st_size
        from playwright.sync_api import sync_playwright  # only to run it: its helpers need none

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--disable-dev-shm-usage"])
            for runtime in options.runtimes:
                for mode in MODES[runtime]:
                    folder = scratch / f"{runtime}-{mode}"
                    lay_out(folder, runtime, mode, wheel)
                    process, origin = static_site.serve(folder)
                    try:
                        found = measure(browser, origin, options.loads, 60 if runtime == "pyodide" else 20)
                    finally:
                        static_site.stop(process)
                    row = {"runtime": runtime, "mode": mode, **found}
                    results["runs"].append(row)
                    print(f"{runtime:12} {mode:8} cold median {statistics.median(found['cold_ms']):7.0f} ms, "
                          f"warm median {statistics.median(found['warm_ms']):7.0f} ms, "
                          f"{found['library_requests'][0]} requests, {found['library_bytes'][0]} bytes", flush=True)
            browser.close()
    results["load_average_after"] = load_average()
    print(table(results))
    if options.json:
        options.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def table(results):
    lines = [f"wheel: {results['wheel_bytes']} bytes; {results['loads']} loads each; load average "
             f"{results['load_average_before']} before, {results['load_average_after']} after", "",
             "| runtime | library as | first decision, cold (median, min-max) | warm (median) | library requests | library bytes |",
             "|---|---|---|---|---|---|"]
    for row in results["runs"]:
        cold, warm = row["cold_ms"], row["warm_ms"]
        lines.append(f"| {row['runtime']} | {row['mode']} | {statistics.median(cold):.0f} ms ({min(cold):.0f}-{max(cold):.0f}) "
                     f"| {statistics.median(warm):.0f} ms | {row['library_requests'][0]} | {row['library_bytes'][0]:,} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
