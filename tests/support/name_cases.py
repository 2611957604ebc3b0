"""The cases of the one rule for user names (app/tabsession/core/names.py), shared by every runtime.

tests/unit/test_names.py runs them in CPython and, through Node, in the vendored MicroPython;
tests/e2e/test_hardening_names.py in a real page of each interpreter on each browser engine.
Each case: (id, what the user typed, the name kept or None when it is refused). The texts
travel to the other runtimes as lists of code points (``points``), so no JSON or string
escaping of either side can change a case on the way. No lone surrogates: MicroPython's str
cannot hold one.

Plain data and standard-library Python only (tests/support/ is on pytest's pythonpath).
"""

# Every character CPython's str.isspace() counts (the set the browsers' Pyodide strips too).
CPYTHON_SPACES = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
                  "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# Characters that are not spaces to any runtime's str.strip(), but show nothing.
INVISIBLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
             "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
             "\u2069\u206a\u206f\u2800\u3164\ufeff\uffa0\U0001bca0\U0001d173\U0001d17a")
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
LONGEST = "a" * 64

CASES = (
    # Plain names, and the ends trimmed.
    ("plain", "alice", "alice"),
    ("one-char", "x", "x"),
    ("ascii-spaces-around", "  alice  ", "alice"),
    ("tab-and-newline-around", "\talice\r\n", "alice"),
    ("inner-space-kept", "Ann Lee", "Ann Lee"),
    ("inner-ideographic-space-kept", "Ann\u3000Lee", "Ann\u3000Lee"),
    ("inner-no-break-space-kept", "Ann\xa0Lee", "Ann\xa0Lee"),
    # Issue 16: what MicroPython used to accept or keep untrimmed.
    ("no-break-spaces-only", "\xa0\xa0", None),
    ("em-space-only", "\u2003", None),
    ("ideographic-spaces-around", "\u3000admin\u3000", "admin"),
    ("next-line-around", "\x85alice\x85", "alice"),
    ("separators-around", "\x1c\x1dalice\x1e\x1f", "alice"),
    ("separators-only", "\x1c\x1d\x1e\x1f", None),
    ("ogham-space-only", "\u1680", None),
    ("line-separators-only", "\u2028\u2029", None),
    ("narrow-and-math-spaces-only", "\u202f\u205f", None),
    ("every-cpython-space", CPYTHON_SPACES, None),
    ("every-cpython-space-around", CPYTHON_SPACES + "bob" + CPYTHON_SPACES, "bob"),
    # Invisible characters no runtime's strip() knows.
    ("zero-width-space-only", "\u200b", None),
    ("zero-width-spaces-around", "\u200badmin\u200b", "admin"),
    ("word-joiner-before", "\u2060admin", "admin"),
    ("byte-order-marks-around", "\ufeffadmin\ufeff", "admin"),
    ("hangul-filler-only", "\u3164", None),
    ("hangul-filler-before", "\u3164admin", "admin"),
    ("halfwidth-hangul-filler-only", "\uffa0", None),
    ("hangul-choseong-jungseong-fillers", "\u115f\u1160", None),
    ("braille-blank-only", "\u2800", None),
    ("soft-hyphen-only", "\u00ad", None),
    ("mongolian-vowel-separator-only", "\u180e", None),
    ("joiners-only", "\u200c\u200d", None),
    ("right-to-left-override-before", "\u202eadmin", "admin"),
    ("every-invisible", INVISIBLE, None),
    ("every-invisible-around", INVISIBLE + "carol" + INVISIBLE, "carol"),
    ("astral-invisible-around", "\U0001d173dave\U0001bca0", "dave"),
    ("blank-mix", " \u200b\xa0\u3164\u2003 ", None),
    # Inside a name, invisible characters are not judged (names.py N5).
    ("inner-zero-width-space-kept", "ad\u200bmin", "ad\u200bmin"),
    ("inner-joiner-kept", "a\u200db", "a\u200db"),
    # Sequence parts: never trimmed, never a name alone.
    ("variation-selector-only", "\ufe0f", None),
    ("variation-selector-between-spaces", " \ufe0f ", None),
    ("supplementary-selector-only", "\U000e0100", None),
    ("tags-only", "\U000e0067\U000e0062\U000e007f", None),
    ("blank-and-selector", "\u200b\ufe0f\u3000", None),
    ("emoji-selector-kept", "eve\u2764\ufe0f", "eve\u2764\ufe0f"),
    ("flag-tags-kept", " " + ENGLAND + " ", ENGLAND),
    # Control characters: refused inside, the blank ones trimmed at the ends.
    ("nul-before", "\x00alice", None),
    ("nul-inside", "ali\x00ce", None),  # a JavaScript string must not end at a NUL
    ("nul-after", "alice\x00", None),
    ("bell-inside", "al\x07ice", None),
    ("delete-after", "alice\x7f", None),
    ("c1-inside", "ali\x9bce", None),
    ("tab-inside", "a\tb", None),
    ("separator-inside", "a\x1fb", None),
    ("next-line-inside", "a\x85b", None),
    # Length, in code points, after trimming.
    ("empty", "", None),
    ("longest", LONGEST, LONGEST),
    ("one-too-long", LONGEST + "a", None),
    ("longest-with-spaces-around", " \u3000" + LONGEST + "\u200b ", LONGEST),
    ("longest-astral", "\U0001f600" * 64, "\U0001f600" * 64),
    ("astral-one-too-long", "\U0001f600" * 65, None),
    # Other scripts and combining marks are names like any other.
    ("precomposed-accent", "Jos\xe9", "Jos\xe9"),
    ("combining-accent", "Jose\u0301", "Jose\u0301"),
    ("cjk", "\u5c71\u7530", "\u5c71\u7530"),
    ("arabic", "\u0639\u0644\u064a", "\u0639\u0644\u064a"),
    ("emoji", "\U0001f600", "\U0001f600"),
)


def points(text):
    """A text as code points (None stays None), to carry it to another runtime unchanged."""
    return None if text is None else [ord(char) for char in text]


def ids():
    return [case[0] for case in CASES]


def inputs():
    return [case[1] for case in CASES]


def expected():
    """{case id: the name kept (None: refused)}."""
    return {case[0]: case[2] for case in CASES}
