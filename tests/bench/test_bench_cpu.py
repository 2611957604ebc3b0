"""The cpu phase's trace arithmetic (bench/cpu.py) and its report lines, on made-up traces."""

from bench import cpu, machine, report

MAIN, OTHER = (1, 10), (1, 11)


def meta(key, name):
    return {"ph": "M", "name": "thread_name", "pid": key[0], "tid": key[1], "args": {"name": name}}


def x(key, name, ts, dur, tdur=None):
    event = {"ph": "X", "name": name, "pid": key[0], "tid": key[1], "ts": ts, "dur": dur}
    if tdur is not None:
        event["tdur"] = tdur
    return event


def test_nested_script_counts_once_and_forced_layout_counts_as_script():
    events = [meta(MAIN, "CrRendererMain"), meta(OTHER, "Compositor"),
              x(MAIN, "RunTask", 0, 10_000, 9_000),
              x(MAIN, "TimerFire", 100, 6_000, 5_000),  # a timer ...
              x(MAIN, "FunctionCall", 200, 5_000, 4_000),  # ... calling into JavaScript ...
              x(MAIN, "Layout", 300, 1_000, 1_000),  # ... which forced a layout
              x(MAIN, "UpdateLayoutTree", 7_000, 1_000, 1_000),  # rendering after the script
              x(MAIN, "Paint", 8_000, 500, 500),
              x(MAIN, "RunTask", 20_000, 3_000, 2_000),
              x(MAIN, "RunMicrotasks", 20_100, 1_000, 1_000),
              x(OTHER, "RunTask", 0, 50_000, 50_000)]  # not a renderer's main thread

    split = cpu.split(events)

    assert {"threads": 1, "task": 11.0, "script": 6.0, "rendering": 1.5, "other": 3.5,
            "script_entries": 2} == split


def test_events_before_the_start_are_left_out_and_wall_time_stands_in_for_thread_time():
    events = [meta(MAIN, "CrRendererMain"),
              x(MAIN, "RunTask", 0, 4_000), x(MAIN, "FunctionCall", 100, 2_000),
              x(MAIN, "RunTask", 10_000, 3_000), x(MAIN, "EventDispatch", 10_100, 2_000)]

    split = cpu.split(events, since_us=5_000)

    assert (3.0, 2.0, 1) == (split["task"], split["script"], split["script_entries"])


def test_a_trace_without_renderers_or_junk_events_is_all_zero():
    events = [{"ph": "X", "name": "RunTask"}, {"ph": "M"}, meta(MAIN, "CrBrowserMain"), x(MAIN, "RunTask", 0, 5)]

    assert {"threads": 0, "task": 0.0, "script": 0.0, "rendering": 0.0, "other": 0.0,
            "script_entries": 0} == cpu.split(events)


def test_cpu_between_two_readings_by_kind_of_process():
    before = {1: ("browser", 100.0), 2: ("renderer", 50.0), 3: ("renderer", 10.0), 4: ("gpu-process", 5.0)}
    after = {1: ("browser", 130.0), 2: ("renderer", 70.0), 3: ("renderer", 25.0), 5: ("renderer", 99.0)}

    assert {"browser": 30.0, "renderer": 35.0} == cpu.cpu_between(before, after)


def test_the_kind_of_a_chromium_process():
    assert (["renderer", "gpu-process", "browser"]) == [machine.process_kind(c) for c in (
        "/usr/lib/chromium/chromium --type=renderer --x", "chromium --type=gpu-process", "chromium --headless")]


def summary(value):
    return {"n": 3, "median": value, "min": value, "max": value, "p5": value, "p95": value}


def test_the_report_names_where_the_cpu_goes():
    names = ("script", "script_entries", "rendering", "other", "renderers", "browser", "others")
    result = {**{f"{when}_{name}": summary(2.5) for when in ("rest", "signout") for name in names},
              "last": summary(150.0), "tabs": 10, "cores": 2}
    result["signout_script"] = summary(18.0)

    rows = report.cpu_limit_rows({"signout-mpy": result})
    lines = report.cpu_lines({"signout-mpy": result})

    assert 1 == len(rows) and "script 18.0 ms" in rows[0][1] and "last tab reached 150 ms" in rows[0][1]
    assert rows[0][2] is None  # a reference, not a target
    assert any(line.startswith("| mpy | after the click | 18.0 ms (18.0–18.0) |") for line in lines)
    assert [] == report.cpu_lines({}) == report.cpu_limit_rows({})


def test_the_browser_processes_are_found_among_this_process_children():
    """A child whose program is named like Chromium's is counted, with its kind; other children
    (a server, the Playwright driver) are not."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        fake = Path(folder) / "chromium"
        fake.symlink_to(sys.executable)
        browser = subprocess.Popen([str(fake), "-c", "import time; time.sleep(30)", "--type=renderer"])
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            import time
            time.sleep(0.3)
            found = machine.browser_cpu_ms()
        finally:
            for process in (browser, other):
                process.kill()
                process.wait()

    assert "renderer" == found[browser.pid][0] and found[browser.pid][1] >= 0
    assert other.pid not in found
