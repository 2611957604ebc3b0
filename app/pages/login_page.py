"""Entry point of ``/login``: the view plus the sign-in form."""

from pages.view import PageView, by_id, query_one
from tabsession.browser.driver import start
from tabsession.browser.interop import listen


class LoginView(PageView):
    def bind(self, driver):
        PageView.bind(self, driver)
        listen("login-form", "submit", self._on_submit)

    def _on_submit(self, event):
        event.preventDefault()
        field = query_one("#login-form input[name=username]")
        self.driver.sign_in(str(field.value) if field is not None else "")

    def show(self, command):
        PageView.show(self, command)
        signed_out = command.state in ("signed-out", "expired")
        form = by_id("login-form")
        if form is not None:
            form.hidden = not signed_out
        button = query_one("#login-form button[type=submit]")
        if button is not None:
            button.disabled = not signed_out
        if signed_out:
            field = query_one("#login-form input[name=username]")
            if field is not None:
                field.focus()


start("login", LoginView())
