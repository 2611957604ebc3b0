"""Trace analysis and statistics: what a page's trace says (its first decision, clicks, peak
active tabs, paints before the decision), and the summaries of repeated measurements.
"""

import statistics


def percentile(values, fraction):
    """Linear interpolation between closest ranks (numpy's default)."""
    data = sorted(values)
    if not data:
        return None
    position = (len(data) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "p5": percentile(values, 0.05),
        "p95": percentile(values, 0.95),
    }


def painted_early(trace):
    """How many documents of this trace rendered #app while the tab was not active."""
    return sum(1 for entry in trace if entry["kind"] == "painted-early")


def first_decision(trace):
    """The first entry of the first document whose data-tab-state is not `booting`."""
    for entry in trace[1:]:
        if entry["kind"] != "state":
            continue
        if entry["state"] == "booting":
            return None  # a second document began before the first decided
        return entry
    return None


# The steps of a decision with the server as the authority, in the order a page takes them.
API_STEPS = (("places_get", "GET", "/api/places"), ("places_post", "POST", "/api/places"))


def api_steps(trace, decided_t):
    """{step_sent: ms, step_answered: ms} since navigation start for the first request of each
    API_STEPS before the page decided at `decided_t` (an "api" entry of TRACE_JS): sent, the
    answer's head received (fetch resolved) and the answer's body read. A step is counted only
    when sent before the steps after it: a GET sent after the claim (POST) is the tab list's look
    once active, not a step of the decision."""
    steps = {}
    later = decided_t
    for name, method, path in reversed(API_STEPS):
        entry = next((e for e in trace if e["kind"] == "api" and e["method"] == method
                      and e["api"] == path and e["t"] <= later), None)
        if entry is not None:
            steps[name + "_sent"] = entry["t"]
            steps[name + "_head"] = entry["end"]
            steps[name + "_answered"] = entry.get("body", entry["end"])
            later = entry["t"]
    return steps


def api_sent_between(trace, start, end):
    """The /api/ requests a page sent between the epoch times `start` and `end` (ms)."""
    return [e for e in trace if e["kind"] == "api" and start <= e["at"] <= end]


def last_click(trace, element_id):
    clicks = [e for e in trace if e["kind"] == "click" and e["id"] == element_id]
    if not clicks:
        raise RuntimeError(f"no click on #{element_id} was recorded")
    return clicks[-1]["at"]


def first_after(trace, when, matches):
    for entry in trace:
        if entry["at"] >= when and matches(entry):
            return entry
    return None


def peak_active(traces):
    """The most tabs `active` at one instant, from every tab's state history."""
    changes = []
    for trace in traces:
        active_since = None
        for entry in trace:
            if entry["kind"] != "state":
                continue
            if entry["state"] == "active" and active_since is None:
                active_since = entry["at"]
                changes.append((entry["at"], 1))
            elif entry["state"] != "active" and active_since is not None:
                active_since = None
                changes.append((entry["at"], -1))
    peak = level = 0
    for _, step in sorted(changes, key=lambda c: (c[0], c[1])):  # a drop before a rise at a tie
        level += step
        peak = max(peak, level)
    return peak


def max_or_none(values):
    return None if any(v is None for v in values) or not values else max(values)


def fmt_ms(value):
    return "-" if value is None else f"{value:.0f} ms"
