"""The bench's pure helpers for the Pyodide memory-snapshot experiment (no browser)."""

import struct

from bench import report, roots, snapshot


def fake_snapshot(header=b'{"hiwireKeys":[null,null],"immortalKeys":[]}', pages=4):
    """A file laid out as Pyodide 314's makeSnapshot writes one: words [magic, image offset,
    header length, 0, build id x 8], the JSON header at byte 48, the memory image at the offset."""
    offset = (48 + 2 * len(header) + 15) // 16 * 16
    words = struct.pack("<4I", 0x12345678, offset, len(header), 0) + bytes(range(32))
    image = bytes(range(256)) * (pages * 65536 // 256)
    return words + header + bytes(offset - 48 - len(header)) + image, offset


def test_every_damage_is_made_and_described():
    good, _ = fake_snapshot()
    damaged = snapshot.damaged_snapshots(good)
    assert set(damaged) == set(snapshot.DAMAGE)
    assert damaged["missing"] is None
    for name, data in damaged.items():
        if data is not None:
            assert data != good, name


def test_damage_lands_where_it_says():
    good, offset = fake_snapshot()
    damaged = snapshot.damaged_snapshots(good)
    differs = lambda data: [i for i, (a, b) in enumerate(zip(good, data)) if a != b]
    assert differs(damaged["other-build"]) == [16]  # inside the build id (bytes 16-47)
    assert 48 <= differs(damaged["flipped-header"])[0] < offset
    assert [i >= offset for i in differs(damaged["flipped-image"])] == [True]
    assert len(differs(damaged["flipped-spread"])) == 4  # one a 64 KiB page
    assert len(damaged["truncated-page"]) == len(good) - 65536
    assert len(damaged["truncated-half"]) % 4 == 0 and len(damaged["truncated-half"]) < len(good) // 2 + 4


def test_not_a_snapshot_is_refused():
    try:
        snapshot.damaged_snapshots(bytes(1024))
    except ValueError:
        pass
    else:
        raise AssertionError("a file of zeros was taken for a snapshot")


def test_early_modules_are_the_package_and_its_core_parents_first():
    files = [["/app/tabsession/core/machine.py?v=1", "tabsession/core/machine.py"],
             ["/app/tabsession/core/__init__.py?v=2", "tabsession/core/__init__.py"],
             ["/app/tabsession/api.py?v=3", "tabsession/api.py"],
             ["/app/tabsession/__init__.py?v=4", "tabsession/__init__.py"],
             ["/app/pages/view.py?v=5", "pages/view.py"]]
    assert roots.early_modules(files) == ["tabsession", "tabsession.core", "tabsession.core.machine"]


def test_app_files_are_versioned_like_serve_py():
    files = roots.app_files()
    assert files and all(url.startswith("/app/") and "?v=" in url for url, _ in files)
    assert all(len(url.rsplit("=", 1)[1]) == 16 for url, _ in files)
    assert ["tabsession/core/machine.py"] == [p for _, p in files if p.endswith("core/machine.py")]


def test_report_section():
    snapshot = {"pyodide": "pyodide-314.0.7", "bytes": 31_457_408, "gzip_bytes": 6_155_846, "gzip_seconds": 0.9,
                "build_seconds": 2.3, "snapshot_call_ms": 49,
                "damaged": {"missing": {"what": "no such file", "page_checks": "none", "boot": "fallback",
                                        "problem": "Error: a|b", "state": "active", "decided_ms": 2059.0}}}
    boots = [{"boot": "snapshot", "verify_ms": "40.0"}, {"boot": "snapshot", "verify_ms": "30.0"},
             {"boot": "fallback", "verify_ms": None}]
    text = "\n".join(report.snapshot_lines(snapshot, boots))
    assert "31.5 MB (6.2 MB gzipped, in 0.9 s, for `snapgz-pyodide`)" in text
    assert "fallback ×1, snapshot ×2" in text
    assert "35 ms (median)" in text
    assert "| no such file | none | fallback | active in 2059 ms | Error: a/b |" in text


def test_report_steps():
    snapshot = {"pyodide": "pyodide-314.0.7", "bytes": 1, "gzip_bytes": 1, "gzip_seconds": 0.1, "build_seconds": 1.0,
                "snapshot_call_ms": 1}
    steps = {"snap-pyodide": {"cold": {"module": 20, "pyodide_loaded": 700},
                              "warm": {"module": 10, "pyodide_loaded": 600}}}
    text = "\n".join(report.snapshot_lines(snapshot, [], steps))
    assert "- `snap-pyodide`: module 20 ms / 10 ms, pyodide loaded 700 ms / 600 ms" in text
