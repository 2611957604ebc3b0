"""The server side of tabsession: the authority that keeps every session and every tab's place.

What the browser alone decides, a curious user can undo from the developer tools; what the
server decides, they cannot. This package runs only on the server (CPython 3.11+), never in a
page, so unlike ``tabsession.core`` it may use dataclasses, typing and asyncio.

- ``registry.py``: the rules, pure (no I/O, no clock, no randomness).
- ``store.py``: where records live, behind a small async interface (``MemoryStore`` here).
- ``service.py``: ``Authority``, which runs the rules through a store atomically; the HTTP
  routes and the push connections are built on it and on nothing below it.
"""
