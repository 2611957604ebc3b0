"""What a user name is: the one rule, the same on CPython (the server), MicroPython and Pyodide.

Why a table of our own: ``str.strip()`` and ``str.isspace()`` ask the runtime's Unicode
database, and the runtimes disagree (issue 16). CPython and Pyodide strip every Unicode space;
MicroPython strips only the six ASCII ones, so it kept ``"\\u3000admin\\u3000"`` whole where
Pyodide stored ``"admin"``, and accepted ``"\\xa0\\xa0"`` as a name. Neither database knows
characters that are not spaces but show nothing (a zero-width space, a Hangul filler). So the
code points are written out here and nothing else decides.

Rules
-----
N1. Blank characters (``BLANK``) are trimmed from both ends of what the user typed; inside a
    name they are kept ("Ann Lee"). They are every character CPython's ``str.isspace()`` counts
    (Unicode's White_Space, plus U+001C..U+001F, which CPython also splits lines on), every
    assigned Default_Ignorable_Code_Point (Unicode 14's list; zero-width space and joiners, word
    joiner, BOM, soft hyphen, bidi marks and overrides, Hangul fillers, ...) except those of N2,
    and U+2800 BRAILLE PATTERN BLANK, a symbol drawn as nothing. A name left empty is refused.
N2. Sequence parts (``SEQUENCE_PARTS``: variation selectors and tag characters) are invisible
    too, but they finish the character before them (a red heart emoji ends with U+FE0F, the
    flag of England with the cancel tag U+E007F), so they are never trimmed. A name made only
    of N1 and N2 characters shows nothing and is refused.
N3. Control characters (C0, DEL, C1: ``CONTROL``) anywhere in the trimmed name refuse it, as
    before; at the ends the blank ones (tab, line feed, U+0085, ...) are trimmed first.
N4. At most ``MAX_CHARS`` code points after trimming (what every runtime's ``len`` counts).
N5. Only the ends and whole-name blankness are judged: a zero-width space or a bidi override
    inside a name stays (names are shown as text, never as HTML; look-alikes are out of scope).

Pure, and independent of any Unicode database: it imports nothing. ``records.is_user`` and
``machine.username_of`` (which the server imports) go through here. The table-driven tests
(tests/support/name_cases.py) run the same cases in CPython, in MicroPython under Node and in
real pages of both interpreters.
"""

MAX_CHARS = 64

# Inclusive ranges of code points, sorted.
BLANK = (
    (0x0009, 0x000D),    # tab, line feed, vertical tab, form feed, carriage return
    (0x001C, 0x001F),    # file, group, record and unit separators (CPython's isspace)
    (0x0020, 0x0020),    # space
    (0x0085, 0x0085),    # next line
    (0x00A0, 0x00A0),    # no-break space
    (0x00AD, 0x00AD),    # soft hyphen (shown only where a line breaks)
    (0x034F, 0x034F),    # combining grapheme joiner
    (0x061C, 0x061C),    # Arabic letter mark
    (0x115F, 0x1160),    # Hangul choseong and jungseong fillers
    (0x1680, 0x1680),    # Ogham space mark
    (0x17B4, 0x17B5),    # Khmer inherent vowels
    (0x180E, 0x180E),    # Mongolian vowel separator (a space until Unicode 6.3)
    (0x2000, 0x200F),    # en quad .. hair space, zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x2028, 0x202F),    # line and paragraph separators, bidi embeddings, narrow no-break space
    (0x205F, 0x206F),    # medium mathematical space, word joiner, invisible operators, isolates
    (0x2800, 0x2800),    # Braille pattern blank
    (0x3000, 0x3000),    # ideographic space
    (0x3164, 0x3164),    # Hangul filler
    (0xFEFF, 0xFEFF),    # zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),    # halfwidth Hangul filler
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol begin/end beam, tie, slur, phrase
)

SEQUENCE_PARTS = (
    (0x180B, 0x180D),    # Mongolian free variation selectors one to three
    (0x180F, 0x180F),    # Mongolian free variation selector four
    (0xFE00, 0xFE0F),    # variation selectors (U+FE0F: emoji presentation)
    (0xE0001, 0xE0001),  # language tag
    (0xE0020, 0xE007F),  # tag characters (flags of subdivisions), cancel tag
    (0xE0100, 0xE01EF),  # variation selectors supplement
)

CONTROL = (
    (0x0000, 0x001F),    # C0
    (0x007F, 0x009F),    # DEL and C1
)


def _within(ranges, code):
    for first, last in ranges:
        if code < first:
            return False  # sorted: no later range holds it
        if code <= last:
            return True
    return False


def is_blank(char):
    """True for a character trimmed from the ends of a name (N1)."""
    code = ord(char)
    # Printable ASCII is by far the most common input, and none of it is blank but the space.
    if 0x20 < code < 0x7F:
        return False
    return _within(BLANK, code)


def _shows_nothing(char):
    return is_blank(char) or _within(SEQUENCE_PARTS, ord(char))


def trim(text):
    """``text`` without blank characters at either end (N1), on every runtime alike."""
    # A list, because MicroPython finds the n-th character of a str by walking it.
    chars = list(text)
    start, end = 0, len(chars)
    while start < end and is_blank(chars[start]):
        start += 1
    while end > start and is_blank(chars[end - 1]):
        end -= 1
    if start == 0 and end == len(chars):
        return text
    return "".join(chars[start:end])


def is_name(value):
    """True for a name as it is kept: trimmed, 1 to MAX_CHARS code points, no control
    character, something visible (N1-N4). What storage holds is checked with this too."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CHARS:
        return False
    visible = False
    for char in value:
        if _within(CONTROL, ord(char)):
            return False
        if not visible and not _shows_nothing(char):
            visible = True
    return visible and not is_blank(value[0]) and not is_blank(value[-1])


def name_of(text):
    """The name to sign in as (trimmed), or None when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    name = trim(text)
    return name if is_name(name) else None
