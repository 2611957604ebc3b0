"""Hardening (issue 16): a user name is kept, trimmed or refused alike on both interpreters.

The cases are tests/support/name_cases.py, the same that tests/unit/test_names.py runs in CPython
and in MicroPython under Node. Here each interpreter answers them in a real page of each engine:
the sign-in page boots once, then one Python script added to it (of the page's own type, so it
runs in the page's interpreter, with the modules the page loaded: the MicroPython bundle or the
sources) hands every case to tabsession.core.names. The texts reach Python as JavaScript strings,
the way a typed name does from the form; the answers come back as code points, so nothing on the
way back can change them. Signing in with each case would cost a page load per case, and the form
does nothing to the text but hand it to the same function.
"""

import json

import name_cases  # tests/support/, on pytest's pythonpath

ANSWER_EVERY_CASE = """
import json
from pyscript import window
from tabsession.core import names

texts = window.tabsessionNameCases
answers = []
for index in range(texts.length):  # len() of a JavaScript array fails in MicroPython
    name = names.name_of(texts[index])
    answers.append(None if name is None else [ord(char) for char in name])
window.tabsessionNameAnswers = json.dumps(answers)
"""

ADD_SCRIPT = """([texts, python]) => {
  window.tabsessionNameCases = texts;
  const entry = document.querySelector('script[type="mpy"], script[type="py"]');
  const script = document.createElement("script");
  script.type = entry.type;
  script.textContent = python;
  document.body.append(script);
}"""

ANSWERED = """() => window.tabsessionNameAnswers !== undefined
  || document.querySelector(".py-error") !== null"""


def test_the_page_keeps_trims_and_refuses_names_as_the_table_says(app_server, context, new_tab):
    """Names (rule N1-N5 of names.py): every case answered in the page as in CPython."""
    page = new_tab(context, app_server, "/login")
    expected = {case_id: name_cases.points(kept) for case_id, _, kept in name_cases.CASES}

    page.evaluate(ADD_SCRIPT, [name_cases.inputs(), ANSWER_EVERY_CASE])
    page.wait_for_function(ANSWERED, timeout=app_server.boot_timeout_ms)
    answers = page.evaluate("() => window.tabsessionNameAnswers")

    assert answers is not None, page.locator(".py-error").first.text_content()
    actual = dict(zip(name_cases.ids(), json.loads(answers)))
    assert expected == actual
