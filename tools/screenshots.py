#!/usr/bin/env python3
"""Take the README's screenshots of the demo: one PNG per main state, in docs/screenshots/.

    .venv/bin/python tools/screenshots.py [--runtime micropython|pyodide] [--out DIR]

It starts serve.py on free ports (one server with the default settings, one with short
timeouts for the idle warning and expiry, whose time is driven by Playwright's clock), walks
a browser through the states and saves a 900x650 viewport of each (the active tab's whole
page: its notes pad and, below, the tab list). The browser is the one the
tests use: TABSESSION_BROWSER, else Playwright's own Chromium, else /usr/bin/chromium.
Look at every image before committing it: the script checks states, not looks.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 900, "height": 650}
IDLE, WARN = 120, 30
BOOT_TIMEOUT_MS = 30_000
BLOCK_STORAGE = """
for (const name of ["localStorage", "sessionStorage"]) {
  Object.defineProperty(window, name, { configurable: true,
    get() { throw new DOMException("The user denied access to storage.", "SecurityError"); } });
}
"""


class Server:
    """serve.py on a free port; `server("/path")` is a full address."""

    def __init__(self, runtime, *flags):
        command = [sys.executable, str(ROOT / "serve.py"), "--port", "0", "--runtime", runtime, *flags]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"https?://[^\s/]+", line)
        if not match:
            self.stop()
            raise SystemExit(f"serve.py printed no URL: {line!r}")
        self.url = match.group(0)

    def __call__(self, path):
        return self.url + path

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def find_chromium(playwright):
    chosen = os.environ.get("TABSESSION_BROWSER")
    if chosen:
        return chosen
    try:
        own = playwright.chromium.executable_path
    except Exception:  # noqa: BLE001 - not installed
        own = None
    if own and os.access(own, os.X_OK):
        return own
    return shutil.which("chromium") or "/usr/bin/chromium"


def wait_state(page, state, timeout_ms=BOOT_TIMEOUT_MS):
    page.locator(f'html[data-tab-state="{state}"]').wait_for(state="attached", timeout=timeout_ms)
    page.wait_for_timeout(400)  # let the tab list, log and countdowns catch up


NOTES = ("Analytical Engine, notes for Thursday:\n"
         "- Note G: the Bernoulli numbers, step by step\n"
         "- ask Babbage about the store's size\n"
         "- reply to Mary")
NOTES_DARK = "Compiler talk:\n- bring a nanosecond\n- the first bug, taped in the log book"


def type_notes(page, text):
    """Type into the notes pad (an input event per key, each saved) and wait for the save."""
    page.locator("#notes").press_sequentially(text)
    page.locator("#notes-status", has_text="Saved in this browser").wait_for()


def sign_in(page, name):
    page.fill("#username", name)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))  # in place: the History API changes the address
    wait_state(page, "active")


class Shooter:
    def __init__(self, out):
        self.out = out
        self.saved = []

    def __call__(self, page, name, full_page=False):
        path = self.out / (name + ".png")
        page.screenshot(path=str(path), full_page=full_page)
        self.saved.append(path)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} kB")


def take(browser, runtime, out):
    shoot = Shooter(out)
    plain = Server(runtime)
    timed = Server(runtime, "--idle-timeout", str(IDLE), "--warn-before", str(WARN))
    booting = Server("pyodide")
    try:
        # While Python starts (Pyodide, whose runtime is the larger download): its standard
        # library held back, so the page stays showing how much of the runtime has arrived.
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        held = []
        page.route(re.compile(r".*/vendor/pyodide-[^/]+/python_stdlib\.zip$"), lambda route: held.append(route))
        page.goto(booting("/"))
        page.locator("#boot-progress-bar").wait_for(state="visible", timeout=BOOT_TIMEOUT_MS)
        page.wait_for_function("() => /MB/.test(document.getElementById('boot-progress').textContent)",
                               timeout=BOOT_TIMEOUT_MS)
        page.wait_for_timeout(300)
        shoot(page, "starting")
        page.unroute_all(behavior="ignoreErrors")  # the held download is dropped with the page
        context.close()

        context = browser.new_context(viewport=VIEWPORT)
        first = context.new_page()
        first.goto(plain("/"))
        wait_state(first, "signed-out")
        shoot(first, "sign-in")
        sign_in(first, "Ada Lovelace")
        type_notes(first, NOTES)
        with context.expect_page() as opened:
            first.click("#duplicate-tab")
        copy = opened.value
        copy.wait_for_url(re.compile(r"reason=active-elsewhere"))
        wait_state(copy, "blocked")
        first.bring_to_front()
        first.mouse.move(10, 10)
        first.wait_for_timeout(1200)
        shoot(first, "active", full_page=True)  # the notes and the tab list below them
        shoot(copy, "blocked")
        copy.click("#use-here")
        wait_state(first, "moved")
        shoot(first, "moved")
        context.close()

        context = browser.new_context(viewport=VIEWPORT, color_scheme="dark")
        page = context.new_page()
        page.goto(plain("/"))
        wait_state(page, "signed-out")
        sign_in(page, "Grace Hopper")
        type_notes(page, NOTES_DARK)
        other = context.new_page()
        other.goto(plain("/"))
        wait_state(other, "blocked")
        page.bring_to_front()
        page.wait_for_timeout(1200)
        shoot(page, "active-dark", full_page=True)
        context.close()

        context = browser.new_context(viewport=VIEWPORT)
        context.clock.install()
        page = context.new_page()
        page.goto(timed("/"))
        wait_state(page, "signed-out")
        sign_in(page, "Ada Lovelace")
        context.clock.fast_forward((IDLE - WARN + 5) * 1000)
        page.locator("#idle-warning").wait_for(state="visible")
        page.wait_for_timeout(300)
        shoot(page, "idle-warning")
        context.clock.fast_forward((WARN + 1) * 1000)
        page.wait_for_url(re.compile(r"reason=idle"))
        wait_state(page, "expired")
        shoot(page, "expired")
        context.close()

        context = browser.new_context(viewport=VIEWPORT)
        context.add_init_script(script=BLOCK_STORAGE)
        page = context.new_page()
        page.goto(plain("/"))
        wait_state(page, "error")
        shoot(page, "error")
        context.close()
    finally:
        plain.stop()
        timed.stop()
        booting.stop()
    return shoot.saved


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", choices=("micropython", "pyodide"), default="micropython")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with sync_playwright() as playwright:
        launch_args = ["--disable-dev-shm-usage", "--no-first-run"]
        if os.geteuid() == 0:
            launch_args.append("--no-sandbox")
        browser = playwright.chromium.launch(executable_path=find_chromium(playwright), args=launch_args)
        try:
            saved = take(browser, args.runtime, out)
        finally:
            browser.close()
    print(f"{len(saved)} screenshots in {time.monotonic() - started:.1f} s ({args.runtime})")


if __name__ == "__main__":
    main()
