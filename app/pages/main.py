"""Entry point of the demo's one document, served at ``/`` and at ``/login``.

The document holds the sign-in form and the protected content; the session moves between them
in place (``create("both")``), so Python boots once per tab.
"""

import tabsession

from pages.view import DemoView

session = tabsession.create("both")  # settings: what serve.py embedded in the page
DemoView(session)
session.start()
