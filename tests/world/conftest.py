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
    config.addinivalue_line("markers", "own_document_mode: the scenarios choose their document mode "
                                       "themselves (World(document_mode=...))")
    config.addinivalue_line("markers", "loads_only(reason): the scenario is about page loads; it does not "
                                       "run with one document showing both pages")
    config.addinivalue_line("markers", "web_locks_only(reason, strict=True): the scenario cannot hold in the "
                                       "storage-leases mode (no Web Locks); its each_lock_mode case "
                                       "with leases is expected to fail, for that reason")


def pytest_generate_tests(metafunc):
    # Every scenario function runs in both document modes (the stateful machine draws its own).
    if "each_document_mode" in metafunc.fixturenames \
            and metafunc.definition.get_closest_marker("own_document_mode") is None:
        metafunc.parametrize("each_document_mode", fake_browser.DOCUMENT_MODES, indirect=True)


@pytest.fixture(autouse=True)
def each_document_mode(request, monkeypatch):
    """Every scenario runs twice: with the app and login pages as two documents (each change of
    page a load), and with one document that shows both (each change in place, ``create("both")``).
    A scenario about loads themselves says so with ``@pytest.mark.loads_only("reason")``."""
    mode = getattr(request, "param", fake_browser.LOADS)
    marker = request.node.get_closest_marker("loads_only")
    if marker is not None and mode == fake_browser.IN_PLACE:
        pytest.skip("in place there is no load: " + marker.args[0])
    monkeypatch.setattr(fake_browser, "DEFAULT_DOCUMENT_MODE", mode)
    return mode


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
