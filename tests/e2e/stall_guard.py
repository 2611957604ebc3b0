"""A teardown that hangs in the browser is ended, not waited for.

Seen once in a fresh-clone CI run: a test's teardown stayed in Playwright's event loop for about
15 minutes with the machine idle (its context's close never answered), until two Chromium
renderers of that test were killed by hand; the run then went on and every later test passed.
Chromium is known to sometimes never answer `Target.disposeBrowserContext`.

`guard(label, limit_s)` arms a timer around one teardown: if the teardown has not ended after
`limit_s`, the browser's page processes (children of this pytest process's browsers: Chromium's
renderers, Firefox's content processes, WebKit's web processes) are killed, which lets a hung
close return, and the kill is written to stderr at once and listed in the run's summary. A
teardown takes a few seconds (a server stops within 10 s), so the limit is far above any honest one.
Its tests are in test_harness.py.
"""

import os
import signal
import sys
import threading
from pathlib import Path

# A command line with one of these is a page's process (not the browser, GPU or network one).
PAGE_PROCESS_MARKS = ("--type=renderer", "-contentproc", "WebKitWebProcess")

fired = []  # (label, killed pids): what the run's summary reports


def page_processes(root, table):
    """The pids of page processes below `root` in `table` ({pid: (parent pid, command line)})."""
    children = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, below = [], list(children.get(root, ()))
    seen = set()
    while below:
        pid = below.pop()
        if pid in seen:
            continue
        seen.add(pid)
        below.extend(children.get(pid, ()))
        command = table[pid][1]
        if any(mark in command for mark in PAGE_PROCESS_MARKS):
            found.append(pid)
    return sorted(found)


def process_table():
    """{pid: (parent pid, command line)} of this machine's processes, from /proc (Linux)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # it ended meanwhile
        # The name in parentheses may hold spaces: the fields after its closing one are plain.
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        table[int(entry.name)] = (parent, command)
    return table


def this_runs_page_processes():
    return page_processes(os.getpid(), process_table())


class _Guard:
    def __init__(self, label, limit_s, find):
        self.label = label
        self.find = find
        self.timer = threading.Timer(limit_s, self._fire, args=(limit_s,))
        self.timer.daemon = True
        self.timer.start()

    def _fire(self, limit_s):
        try:
            pids = self.find()
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        fired.append((self.label, pids))
        sys.__stderr__.write(f"\nstall guard: the teardown of {self.label} still ran after {limit_s:.0f} s;"
                             f" killed the browsers' page processes {pids}\n")
        sys.__stderr__.flush()

    def cancel(self):
        self.timer.cancel()


def guard(label, limit_s, find=this_runs_page_processes):
    """Arm the guard for one teardown; call `.cancel()` on what it returns when it ends.
    `find()`: the pids to kill when it fires (this run's page processes)."""
    return _Guard(label, limit_s, find)
