"""Entry point of the protected page ``/``."""

from pages.view import PageView
from tabsession.browser.driver import start

start("app", PageView())
