"""Page addresses: parsing the query, choosing a safe ``next``, building redirect URLs.

MicroPython has no ``urllib.parse``, so the little that is needed lives here. The rule for
``next`` is an allow-list: a same-origin absolute path made of plain URL characters, never
``//host``, never a backslash, never a scheme, never the login page itself (that would loop),
and never a path the browser would rewrite before going there (dot segments, ``%2e`` forms
included): ``/.//evil.example`` looks like a path but lands on ``//evil.example``. What is
accepted is where the browser goes. Anything else becomes ``/``.
"""

APP_PATH = "/"
LOGIN_PATH = "/login"  # the default; a page may name another (Settings.login_path)
MAX_LOGIN_PATH_CHARS = 100

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


def valid_login_path(path):
    """True for a sign-in page's path a setting may name: absolute, plain URL characters, no
    query, nothing the browser would rewrite (``/login``, ``/login.html``, ``/login/``)."""
    if not isinstance(path, str) or not 0 < len(path) <= MAX_LOGIN_PATH_CHARS:
        return False
    if not path.startswith("/") or path.startswith("//") or path == APP_PATH:
        return False
    for char in path:
        if char not in _UNRESERVED and char != "/":
            return False
    return resolved_path(path) == path


def is_login_path(path, login_path=LOGIN_PATH):
    """True when ``path`` is the sign-in page, or under it: ``/login/`` also answers as ``/login``
    (a static server redirects one to the other), and ``/login`` as ``/login/``."""
    base = login_path.rstrip("/")
    return path == base or path.startswith(base + "/")


def safe_next(candidate, login_path=LOGIN_PATH):
    """``candidate`` when it is a safe same-origin path to go to after login, else ``/``.
    ``login_path``: the sign-in page, which is never a place to go back to (it would loop)."""
    if not isinstance(candidate, str) or not 0 < len(candidate) <= MAX_NEXT_CHARS:
        return APP_PATH
    if not candidate.startswith("/") or candidate.startswith("//"):
        return APP_PATH
    for char in candidate:
        if char not in _PATH_CHARS:
            return APP_PATH
    path = candidate.split("?", 1)[0]
    decoded = percent_decode(path)
    # Both as written and decoded once: whatever decodes the path next (the browser, a server,
    # a proxy) must find no dot segment, no backslash and no second leading slash in it.
    if decoded is None or resolved_path(path) != path or resolved_path(decoded) != decoded \
            or decoded.startswith("//") or is_login_path(decoded, login_path) or is_login_path(path, login_path):
        return APP_PATH
    for char in decoded:
        if ord(char) < 33 or ord(char) == 127:
            return APP_PATH
    return candidate


def resolved_path(path):
    """The path a browser goes to for ``path`` (which starts with "/"), as the URL standard
    resolves it for http(s): a backslash is a slash, a ``.`` segment goes, a ``..`` segment takes
    the one before it with it, ``%2e`` (either case) counting as a dot. A result that starts with
    "//" names another host to the browser (``/\\evil`` is ``//evil`` before any resolving)."""
    segments = path.replace("\\", "/").split("/")[1:]
    kept = []
    last = len(segments) - 1
    for index in range(len(segments)):
        segment = segments[index]
        dots = _dots(segment)
        if dots == 2 and kept:
            kept.pop()
        if dots == 0:
            kept.append(segment)
        elif index == last:
            kept.append("")  # "/a/." and "/a/.." end with a slash
    return "/" + "/".join(kept)


def _dots(segment):
    """2 for a double-dot segment, 1 for a single dot, else 0 (``%2e`` is a dot)."""
    if len(segment) > 6:
        return 0
    rest = segment.lower().replace("%2e", ".")
    return len(rest) if rest in (".", "..") else 0


def login_url(reason=None, next_path=None, login_path=LOGIN_PATH):
    """The login page's URL with an optional reason and next path (next defaults to none)."""
    params = []
    if reason:
        params.append("reason=" + percent_encode(reason))
    if next_path is not None:
        params.append("next=" + percent_encode(safe_next(next_path, login_path)))
    return login_path + ("?" + "&".join(params) if params else "")
