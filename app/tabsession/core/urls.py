"""Page addresses: parsing the query, choosing a safe ``next``, building redirect URLs.

MicroPython has no ``urllib.parse``, so the little that is needed lives here. The rule for
``next`` is an allow-list: a same-origin absolute path made of plain URL characters, never
``//host``, never a backslash, never a scheme, never the login page itself (that would loop).
Anything else becomes ``/``.
"""

APP_PATH = "/"
LOGIN_PATH = "/login"

_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_PATH_CHARS = _UNRESERVED + "/?=&%+"
_HEX = "0123456789ABCDEF"
MAX_NEXT_CHARS = 512


def percent_decode(text):
    """Decode %XX escapes and '+' (form encoding); None when the result is not UTF-8."""
    if not isinstance(text, str):
        return None
    out = bytearray()
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "%" and index + 3 <= length and _is_hex(text[index + 1:index + 3]):
            out.append(int(text[index + 1:index + 3], 16))
            index += 3
            continue
        if char == "+":
            out.append(32)
        else:
            out.extend(char.encode("utf-8"))
        index += 1
    try:
        return bytes(out).decode("utf-8")
    except Exception:
        return None


def _is_hex(pair):
    if len(pair) != 2:
        return False
    for char in pair:
        if char not in "0123456789abcdefABCDEF":
            return False
    return True


def percent_encode(text):
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in _UNRESERVED:
            out.append(char)
        else:
            out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
    return "".join(out)


def parse_query(search):
    """A dict of the first value of each parameter in a ``location.search`` string."""
    params = {}
    if not isinstance(search, str):
        return params
    if search.startswith("?"):
        search = search[1:]
    for part in search.split("&"):
        if not part:
            continue
        if "=" in part:
            name, value = part.split("=", 1)
        else:
            name, value = part, ""
        name = percent_decode(name)
        value = percent_decode(value)
        if name is None or value is None or name in params:
            continue
        params[name] = value
    return params


def safe_next(candidate):
    """``candidate`` when it is a safe same-origin path to go to after login, else ``/``."""
    if not isinstance(candidate, str) or not 0 < len(candidate) <= MAX_NEXT_CHARS:
        return APP_PATH
    if not candidate.startswith("/") or candidate.startswith("//"):
        return APP_PATH
    for char in candidate:
        if char not in _PATH_CHARS:
            return APP_PATH
    path = candidate.split("?", 1)[0]
    decoded = percent_decode(path)
    if decoded is None or decoded.startswith("//") or "\\" in decoded or decoded == LOGIN_PATH \
            or decoded.startswith(LOGIN_PATH + "/") or "/../" in decoded + "/" or path == LOGIN_PATH:
        return APP_PATH
    for char in decoded:
        if ord(char) < 33 or ord(char) == 127:
            return APP_PATH
    return candidate


def login_url(reason=None, next_path=None):
    """The login page's URL with an optional reason and next path (next defaults to none)."""
    params = []
    if reason:
        params.append("reason=" + percent_encode(reason))
    if next_path is not None:
        params.append("next=" + percent_encode(safe_next(next_path)))
    return LOGIN_PATH + ("?" + "&".join(params) if params else "")
