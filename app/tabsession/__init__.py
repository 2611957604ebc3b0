"""tabsession: tab-level session control for PyScript pages.

The package has two halves:
- ``tabsession.core``: pure Python that decides (no browser imports; runs on CPython,
  MicroPython and Pyodide). Time and randomness come in as inputs.
- ``tabsession.browser``: thin adapters that read the browser, feed the core and carry
  out what it decides.
"""

VERSION = "0.1.0"
