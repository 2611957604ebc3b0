"""Fakes the server's tests share: a clock the test moves and predictable tokens."""

T0 = 1700000000.0


class Clock:
    """``clock()`` is ``clock.now``; tests move it by hand."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


class Tokens:
    """"token-1", "token-2", ...: ids and keys a test can name."""

    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1
        return "token-%d" % self.count
