"""Entry point of the protected page ``/``: the demo view on tabsession's public API."""

import tabsession

from pages.view import DemoView

session = tabsession.create("app")  # settings: what serve.py embedded in the page
DemoView(session)
session.start()
