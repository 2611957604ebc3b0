"""The bench's tests import its modules as the package `bench` (bench/run.py is the command):
the repository's folder is put on sys.path here (until pytest's `pythonpath` names it)."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
