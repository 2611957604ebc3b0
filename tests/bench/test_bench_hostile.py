"""bench/hostile.py's pure helpers (no browser): a renderer's CPU rate from two CDP samples, the
wake-up counters a page may not show, and the issue 16 targets its report checks."""

from bench import hostile
from bench.traces import summarize


def test_cpu_rate_spans_the_renderer_s_own_timestamps():
    """A busy renderer answers late: the rate divides by the time between its own samples."""
    assert 250 == hostile.cpu_ms_per_s((1.0, 100.0), (1.5, 102.0))
    assert None is hostile.cpu_ms_per_s(None, (1.5, 102.0))  # a page that never answered
    assert None is hostile.cpu_ms_per_s((1.0, 100.0), (1.2, 100.0))  # no time passed


def test_wake_counters_absent_before_the_change_count_as_none():
    assert [7, None, None] == [hostile.counter_value({"signals": "7"}, "signals"),
                               hostile.counter_value({"signals": None}, "signals"),
                               hostile.counter_value(None, "batches")]


def flood_figures(reach, cpu, not_reached=0, machine_busy=0.5):
    return {"flood": {"reach_all": summarize(reach), "cpu_per_tab_max": cpu, "not_reached": not_reached,
                      "machine_busy": summarize([machine_busy])}}


def crowded_figures(keys, idle, decision):
    return {str(keys): {"keys": keys, "idle_cpu": summarize([idle]), "decision": summarize([decision])}}


def test_targets_need_every_run_within_1_s_and_half_a_core():
    lines = hostile.target_lines("after", {"flood": {
        "micropython": flood_figures([300, 900], 120),
        "pyodide": flood_figures([300, 1100], 520)}})

    assert [": met (slowest run 900 ms;" in lines[0], lines[1].endswith(": met (busiest tab 120 ms of CPU per s)")] \
        == [True, True]
    assert all(": not met" in line for line in lines[2:])


def test_a_saturated_machine_tells_nothing_of_a_tab_s_own_appetite():
    figures = flood_figures([200], 150)
    figures["flood"]["cpu_all_cores"] = summarize([1.9])
    [_, cpu] = hostile.target_lines("before", {"machine": {"nproc": 2}, "flood": {"micropython": figures}})

    assert ": cannot tell, the run's processes used up to 1.90 of 2 cores" in cpu


def test_unless_each_tab_counted_the_wake_ups_sent_so_far():
    counts = {"flood": {"rate": 1000, "warm": 2, "measure": 6}}
    figures = flood_figures([200], 150, machine_busy=0.99)
    busy = hostile.target_lines("after", {"counts": counts, "flood": {"micropython": figures}})[1]
    figures["flood"]["wake_signals"] = summarize([7900, 8080])
    kept_up = hostile.target_lines("after", {"counts": counts, "flood": {"micropython": figures}})[1]

    assert ": cannot tell, the machine was up to 99% busy" in busy
    assert ": met, every tab kept up (at least 7,900 of about 8,000 wake-ups counted)" in kept_up


def test_a_tab_never_reached_misses_the_target_whatever_the_others_did():
    [reach, _] = hostile.target_lines("before", {"flood": {"micropython": flood_figures([200], 50, 1)}})

    assert ": not met" in reach


def test_crowded_storage_is_held_to_10_percent_of_an_empty_origin():
    crowded = {**crowded_figures(0, 20, 400), **crowded_figures(50000, 21.9, 460)}
    idle, decision = hostile.target_lines("after", {"crowded": {"micropython": crowded}})

    assert ": met" in idle and ": not met" in decision
