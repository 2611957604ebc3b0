"""The benchmark: `.venv/bin/python bench/run.py --help`.

run.py (the command: its arguments, one run) uses common.py (what every part shares),
page_scripts.py (what runs in the pages), traces.py (trace analysis and statistics), machine.py
(memory and load), roots.py (the roots and servers), snapshot.py (the memory-snapshot
experiment), phases.py (the four phases) and report.py (results.md and chart.png).
"""
