"""Browser adapters: the only code that touches ``window``.

They read the browser, turn what happens into core events, and carry out core commands.
They decide nothing: every decision is in ``tabsession.core``.
"""
