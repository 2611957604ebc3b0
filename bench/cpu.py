"""Where the CPU goes while an action reaches the tabs: Chromium's trace, split by kind of work.

The reach figures say how long the last tab took; these say what the machine did meanwhile, so
that "what limits it" is a measurement (issue 15):

- ``split(events)``: from a Chromium trace (categories ``TRACE_CATEGORIES``), the work of every
  renderer's main thread, in thread time (CPU, not wall), by kind: ``script`` (timers, promise
  callbacks, event listeners and other calls into JavaScript, which is where a page's Python
  runs: MicroPython and Pyodide are WebAssembly called from JavaScript), ``rendering`` (style,
  layout, paint, compositing that no script forced) and ``other`` (the rest of each task: IPC,
  scheduling, parsing), plus the count of script entries;
- ``cpu_between(before, after)``: what each kind of Chromium process (``renderer``, ``browser``,
  ``gpu-process``, ``utility``...) used between two readings of ``machine.browser_cpu_ms()``.

Pure.
"""

TRACE_CATEGORIES = ["toplevel", "devtools.timeline", "v8.execute",
                    "disabled-by-default-devtools.timeline"]
TASK = "RunTask"
SCRIPT = ("FunctionCall", "TimerFire", "RunMicrotasks", "EventDispatch", "EvaluateScript",
          "v8.compile", "FireAnimationFrame", "FireIdleCallback")
RENDERING = ("UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize", "Commit", "UpdateLayer",
             "PaintImage", "RasterTask", "HitTest", "IntersectionObserverController::computeIntersections")


def _thread_ms(event):
    """An event's thread time in ms (``tdur``: CPU of its thread), else its wall duration."""
    return event.get("tdur", event.get("dur", 0)) / 1000.0


def split(events, since_us=None):
    """{"threads": n, "task": ms, "script": ms, "rendering": ms, "other": ms, "script_entries": n}
    summed over the renderer main threads of trace ``events`` (complete "X" events), from
    ``since_us`` (trace clock) on. A script event inside another counts once (the outer one);
    rendering inside script (a forced layout) counts as script, the time the script waited."""
    names = {}
    for event in events:
        if event.get("ph") == "M" and event.get("name") == "thread_name":
            names[(event.get("pid"), event.get("tid"))] = (event.get("args") or {}).get("name")
    main = {key for key, name in names.items() if name == "CrRendererMain"}
    by_thread = {}
    for event in events:
        key = (event.get("pid"), event.get("tid"))
        if key in main and event.get("ph") == "X" and "ts" in event \
                and (since_us is None or event["ts"] >= since_us):
            by_thread.setdefault(key, []).append(event)
    out = {"threads": len(main), "task": 0.0, "script": 0.0, "rendering": 0.0, "script_entries": 0}
    for thread_events in by_thread.values():
        # Outer events first: by start, and the longer first at the same start.
        thread_events.sort(key=lambda e: (e["ts"], -e.get("dur", 0)))
        open_ = []  # (end, kind) of the events that contain the current one
        for event in thread_events:
            start, end = event["ts"], event["ts"] + event.get("dur", 0)
            while open_ and open_[-1][0] <= start:
                open_.pop()
            name = event.get("name")
            kind = ("task" if name == TASK else "script" if name in SCRIPT
                    else "rendering" if name in RENDERING else None)
            inside = [k for _, k in open_]
            if kind == "task" and "task" not in inside:
                out["task"] += _thread_ms(event)
            elif kind == "script" and "script" not in inside:
                out["script"] += _thread_ms(event)
                out["script_entries"] += 1
            elif kind == "rendering" and "script" not in inside and "rendering" not in inside:
                out["rendering"] += _thread_ms(event)
            if kind is not None:
                open_.append((end, kind))
    out["other"] = max(0.0, out["task"] - out["script"] - out["rendering"])
    return out


def cpu_between(before, after):
    """{kind: CPU ms} used between two ``browser_cpu_ms`` readings, by processes in both."""
    out = {}
    for pid, (kind, ms) in after.items():
        if pid in before:
            out[kind] = out.get(kind, 0.0) + max(0.0, ms - before[pid][1])
    return out
