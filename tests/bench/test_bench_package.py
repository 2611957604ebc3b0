"""bench/package.py's pure helpers (no browser): each way of shipping the library in pyscript.toml,
and the table it prints."""

from pathlib import Path

from bench import package


def test_each_mode_ships_the_library_its_own_way():
    wheel = Path("/x/tabsession-9.9.9-py3-none-any.whl")
    configs = {mode: package.config_for("micropython", mode, wheel) for mode in ("wheel", "sources", "bundle")}

    assert '"./tabsession-9.9.9-py3-none-any.whl" = "./*"' in configs["wheel"]
    assert '"./tabsession/core/machine.py" = "./tabsession/core/machine.py"' in configs["sources"]
    assert len(package.library_files()) == configs["sources"].count(".py\" = ")
    assert '"./tabsession.mpy" = "./tabsession/__init__.mpy"' in configs["bundle"]
    assert all(config.startswith('interpreter = "/vendor/micropython-1.27.0/micropython.mjs"')
               for config in configs.values())
    assert package.config_for("pyodide", "wheel", wheel).startswith('interpreter = "/vendor/pyodide-314.0.7/')


def test_the_table_gives_medians_and_ranges():
    results = {"wheel_bytes": 1000, "loads": 3, "load_average_before": 1.0, "load_average_after": 2.0,
               "runs": [{"runtime": "micropython", "mode": "wheel", "cold_ms": [300, 100, 200],
                         "warm_ms": [50, 70, 60], "library_requests": [1, 1, 1], "library_bytes": [1000] * 3}]}

    assert "| micropython | wheel | 200 ms (100-300) | 60 ms | 1 | 1,000 |" in package.table(results)
