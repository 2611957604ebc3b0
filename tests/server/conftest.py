"""The server tests' fixtures: `tree`, a fake repository, and `server` and `pyodide_server`, one
serve.py each per test module (the helpers they use are in serve_support.py, which starts serve.py
through tests/support/live_server.py, on sys.path by pytest's `pythonpath`).
"""

from pathlib import Path

import pytest
from serve_support import PYODIDE_OPTIONS, build_tree, start, stop


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("root"), tmp_path_factory.mktemp("outside"))


@pytest.fixture(scope="module")
def server(tree, tmp_path_factory):
    """One server with the default options for the whole module; it must print nothing."""
    running = start(tree, tmp=tmp_path_factory.mktemp("logs"))
    yield running
    assert 0 == stop(running)
    assert "" == running.stderr()


@pytest.fixture(scope="module")
def pyodide_server(tree, tmp_path_factory):
    """One server with every option changed from its default."""
    running = start(tree, *PYODIDE_OPTIONS, tmp=tmp_path_factory.mktemp("logs"))
    yield running
    assert 0 == stop(running)
    assert "" == running.stderr()


from store_fixtures import make_store, redis_server, store_kind, store_spec  # noqa: E402,F401  (fixtures)
