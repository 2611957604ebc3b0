"""The real repository (once `./dev setup` has run): serve.py serves the folder it lives in."""

import signal

import pytest
from live_server import LiveServer

from serve_support import FIRST_LINE, REPOSITORY, request, serve


@pytest.mark.skipif(
    not (REPOSITORY / "vendor").is_dir() or not (REPOSITORY / "index.html").is_file(),
    reason="needs ./dev setup (vendor/) and the real pages",
)
def test_real_repository_is_served_from_any_working_directory(tmp_path):
    """Without --root, serve.py serves the folder it lives in, whatever the working directory."""
    running = LiveServer(logs_in=tmp_path / "logs", cwd=tmp_path).start()
    try:
        port = int(FIRST_LINE.fullmatch(running.first_line).group(1))
        expected = (200, 200, 200, 404, 404)

        actual = (
            request(port, "/").status,
            request(port, "/pyscript.toml").status,
            request(port, "/" + serve.PYSCRIPT_FILES[0]).status,
            request(port, "/serve.py").status,
            request(port, "/.git/config").status,
        )
    finally:
        running.stop(signal.SIGINT)

    assert expected == actual
