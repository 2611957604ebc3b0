"""The bench's paint check (issue 8: no protected content painted before the decision):
counting what the page's trace recorded, and the targets row it feeds (no browser)."""

from bench import page_scripts, report, traces

STATE = {"kind": "state", "state": "booting", "t": 0}
EARLY = {"kind": "painted-early", "state": "booting", "t": 40}


def decision(painted, loads):
    return {"cold": {}, "warm": {}, "samples": {"states": ["active"] * loads, "painted_early": painted}}


def paint_row(results):
    rows = [row for row in report.targets(results) if row[0].startswith("No protected content")]
    assert len(rows) == 1
    return rows[0]


def test_painted_early_counts_each_recorded_document():
    assert (0, 2) == (traces.painted_early([STATE]), traces.painted_early([STATE, EARLY, STATE, EARLY]))


def test_the_watcher_in_the_trace_script_records_what_the_counter_reads():
    """The init script and the counter agree on the entry's kind."""
    assert '"painted-early"' in page_scripts.TRACE_JS and 'getElementById("app")' in page_scripts.TRACE_JS


def test_counts_only_pages_that_hold_app_and_every_many_tab():
    results = {"decision": {"js": decision(0, 20), "app-mpy": decision(1, 20), "bare-mpy": decision(0, 20)},
               "many": {"mpy-10": {"tabs": 10, "runtime": "micropython", "runs": [{"painted_early": 0}] * 3,
                                   "correct": 3, "reps": 3, "peak_active": 3}}}

    assert {"painted": 1, "loads": 50} == report.painted_early_counts(results)


def test_a_painted_load_fails_the_target_and_none_meets_it():
    met = paint_row({"decision": {"js": decision(0, 20), "app-mpy": decision(0, 20)}})
    missed = paint_row({"decision": {"js": decision(0, 20), "app-mpy": decision(2, 20)}})

    assert (True, False) == (met[2], missed[2])
    assert missed[1].startswith("2 of 20 page loads")
