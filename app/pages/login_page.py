"""Entry point of ``/login``: the demo view plus the sign-in form."""

import tabsession

from pages.view import DemoView, by_id, on, query_one


class LoginView(DemoView):
    def __init__(self, session):
        DemoView.__init__(self, session)
        on("login-form", "submit", self.on_submit)

    def on_submit(self, event):
        event.preventDefault()
        field = query_one("#login-form input[name=username]")
        self.session.sign_in(str(field.value) if field is not None else "")

    def show_state(self, change):
        DemoView.show_state(self, change)
        signed_out = change.state in ("signed-out", "expired")
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


session = tabsession.create("login")
LoginView(session)
session.start()
