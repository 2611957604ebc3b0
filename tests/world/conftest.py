"""Fixtures that run world scenarios once per browser mechanism (see fake_browser.py).

A scenario file opts in with ``pytestmark = pytest.mark.usefixtures("each_mechanism")`` (and/or
``"each_lock_mode"``): every ``World()`` it makes without naming a mechanism (a lock mode) then
uses the fixture's, as broadcast-channel libraries run one suite per transport. A scenario that
cannot hold without Web Locks says why with ``@pytest.mark.web_locks_only("reason")``: its
storage-leases case is then expected to fail (strictly, so a case that starts passing is noticed;
``strict=False`` where only some task orders fail).
"""

import pytest

import fake_browser


def pytest_configure(config):
    config.addinivalue_line("markers", "web_locks_only(reason, strict=True): the scenario cannot hold in the "
                                       "storage-leases mode (no Web Locks); its each_lock_mode case "
                                       "with leases is expected to fail, for that reason")


@pytest.fixture(params=fake_browser.MECHANISMS)
def each_mechanism(request, monkeypatch):
    """The wake-up mechanism of every World made by the test: BroadcastChannel (and storage
    events), then storage events alone."""
    monkeypatch.setattr(fake_browser, "DEFAULT_MECHANISM", request.param)
    return request.param


@pytest.fixture(params=fake_browser.LOCK_MODES, ids=["web-locks", "storage-leases"])
def each_lock_mode(request, monkeypatch):
    """The lock adapter of every World made by the test without one: Web Locks, then leases in
    storage (a browser without Web Locks)."""
    marker = request.node.get_closest_marker("web_locks_only")
    if marker is not None and request.param == fake_browser.STORAGE_LEASES:
        request.applymarker(pytest.mark.xfail(reason="without Web Locks: " + marker.args[0],
                                              strict=marker.kwargs.get("strict", True)))
    monkeypatch.setattr(fake_browser, "DEFAULT_LOCK_MODE", request.param)
    return request.param
