"""The pure core: records, events, commands and the per-tab state machine.

Nothing in this package may import ``js``, ``pyscript``, ``pyodide`` or read a clock:
``tests/unit/test_core_purity.py`` parses every module here to keep that promise.
"""
