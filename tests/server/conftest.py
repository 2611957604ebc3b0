"""The server tests' shared set-up.

tests/support holds live_server.py, the one way the tests and the bench start serve.py; it is put
on sys.path here (until pytest's `pythonpath` names it).
"""

import sys
from pathlib import Path

SUPPORT = str(Path(__file__).resolve().parents[1] / "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)
