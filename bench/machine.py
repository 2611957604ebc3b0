"""The machine: renderer memory of the browser the bench started (Pss, private), the load
average, and a description of the machine for the report.
"""

import os
import platform
import re


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def renderer_memory_kb():
    """(Pss, private, processes) summed over the renderer processes of the browser we started.

    Pss (proportional set size) is what issue 8 asks for; it shares pages mapped by several
    processes among them, so it moves a little when any other Chromium on the machine starts or
    stops. Private (Private_Clean + Private_Dirty) counts pages of one process only.
    """
    pss = private = count = 0
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if b"--type=renderer" not in file.read():
                    continue
            with open(f"/proc/{pid}/smaps_rollup") as file:
                fields = dict(line.split(":", 1) for line in file if ":" in line and not line[0].isdigit())
        except OSError:
            continue  # the process ended meanwhile
        pss += int(fields["Pss"].split()[0])
        private += int(fields["Private_Clean"].split()[0]) + int(fields["Private_Dirty"].split()[0])
        count += 1
    return pss, private, count


def load_average():
    return list(os.getloadavg())


def machine(browser_version):
    with open("/proc/meminfo") as file:
        total_kb = int(next(line for line in file if line.startswith("MemTotal:")).split()[1])
    cpu = ""
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next((line.split(":", 1)[1].strip() for line in file if line.startswith("model name")), "")
    except OSError:
        pass
    import playwright
    from importlib.metadata import version
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(total_kb / 1024 / 1024, 1),
        "chromium": browser_version, "os": platform.platform(), "python": platform.python_version(),
        "playwright": version("playwright"),
    }


def cpu_seconds():
    """CPU time (user + system, s) used so far by every process this bench started (the browser's
    processes and the servers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def established_connections(port):
    """TCP connections established to `port` on this machine, counted on the server's side (the
    sockets whose local port is `port`), from /proc/net/tcp and tcp6."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as file:
                next(file)
                for line in file:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                        count += 1
        except OSError:
            continue
    return count


def process_kind(command):
    """"renderer", "gpu-process", "utility", ... from a Chromium command line; "browser" without
    ``--type=``."""
    match = re.search(r"--type=(\S+)", command)
    return match.group(1) if match else "browser"


def browser_cpu_ms():
    """{pid: (kind, CPU ms so far)} of the browser's processes (those this bench started whose
    program is a Chromium: ``chromium``, ``chrome``, ``headless_shell``...; /usr/bin/chromium is
    a script that starts /usr/lib/chromium/chromium), from /proc/<pid>/schedstat (all threads,
    in nanoseconds)."""
    out = {}
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            program = os.path.basename(command.split(" ", 1)[0])
            if not program.startswith(("chrom", "headless_shell")):
                continue
            with open(f"/proc/{pid}/schedstat") as handle:
                ns = int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
        out[pid] = (process_kind(command), ns / 1e6)
    return out
