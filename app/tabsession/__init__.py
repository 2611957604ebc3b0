"""tabsession: tab-level session control for PyScript pages.

Use it from a page through ``tabsession.create`` (see ``tabsession.api`` and the README's
"Use it in your own PyScript app"):

    import tabsession
    session = tabsession.create("app", max_tabs=1)
    session.subscribe(lambda change: ...)
    session.start()

The package has three layers:
- ``tabsession.core``: pure Python that decides (no browser imports; runs on CPython,
  MicroPython and Pyodide). Time and randomness come in as inputs.
- ``tabsession.browser``: thin adapters that read the browser, feed the core and carry
  out what it decides.
- ``tabsession.api``: the small public API pages use.

Importing this package imports nothing else, so the core's tests run in plain CPython;
``create`` loads the browser half on first use.
"""

__version__ = "0.1.0"


def create(page="app", protect="app", **settings):
    """A ``tabsession.api.Session`` for this page; see ``tabsession.api.create``."""
    from tabsession.api import create as _create

    return _create(page, protect, **settings)
