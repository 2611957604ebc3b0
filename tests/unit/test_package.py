"""The package (issue 17): what `python -m build` makes, and that the wheel installs and imports.

Built here without isolation (`--no-isolation`), from the pins in requirements-dev.txt, so the
test needs no index.
"""

import email.parser
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import tabsession

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "app" / "tabsession"
WHEEL = f"tabsession-{tabsession.__version__}-py3-none-any.whl"
SDIST = f"tabsession-{tabsession.__version__}.tar.gz"


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    return out


def wheel_names(dist):
    with zipfile.ZipFile(dist / WHEEL) as wheel:
        return set(wheel.namelist())


def metadata(dist):
    with zipfile.ZipFile(dist / WHEEL) as wheel:
        text = wheel.read(f"tabsession-{tabsession.__version__}.dist-info/METADATA").decode()
    return email.parser.Parser().parsestr(text)


def test_the_version_is_one_string_that_looks_like_a_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", tabsession.__version__), tabsession.__version__


def test_build_makes_one_pure_python_wheel_and_an_sdist(dist):
    assert sorted([SDIST, WHEEL]) == sorted(path.name for path in dist.iterdir())


def test_the_wheel_holds_the_library_and_nothing_of_the_demo_or_the_tests(dist):
    """Every .py file under app/tabsession, at its import path; no pages/, tests, caches."""
    library = {"tabsession/" + path.relative_to(LIBRARY).as_posix()
               for path in LIBRARY.rglob("*.py") if "__pycache__" not in path.parts}
    names = wheel_names(dist)
    in_package = {name for name in names if not name.startswith(f"tabsession-{tabsession.__version__}.dist-info/")}
    assert library == in_package


def test_the_server_side_dependencies_are_only_in_its_extras(dist):
    data = metadata(dist)
    requires = data.get_all("Requires-Dist") or []
    assert {"server", "redis"} <= set(data.get_all("Provides-Extra"))
    assert requires and all("extra ==" in requirement for requirement in requires), requires
    assert any(requirement.startswith("starlette") and "server" in requirement for requirement in requires)
    assert (tabsession.__version__, "tabsession") == (data["Version"], data["Name"])


def test_the_metadata_a_page_unpacks_stays_small(dist):
    """A page unpacks the whole wheel, METADATA too: its description is the short docs/package.md."""
    with zipfile.ZipFile(dist / WHEEL) as wheel:
        sizes = {info.filename: info.file_size for info in wheel.infolist()}
    assert sizes[f"tabsession-{tabsession.__version__}.dist-info/METADATA"] < 8000


def test_the_sdist_has_the_sources_the_changelog_and_the_licence(dist):
    with tarfile.open(dist / SDIST) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "CHANGELOG.md", "LICENSE", "docs/package.md",
            "app/tabsession/__init__.py", "app/tabsession/core/machine.py"} <= names
    assert not any(name.startswith(("tests/", "app/pages/", "vendor/", "node_modules/")) for name in names)


def test_the_wheel_installs_and_imports_in_a_fresh_environment(dist, tmp_path):
    """Installed with no dependencies (the browser side needs none): the core decides and the
    version is the package's; the server side is there to import once its extra is installed."""
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(dist / WHEEL)], check=True, capture_output=True, text=True)
    probe = ("import tabsession, tabsession.core.machine, tabsession.core.urls as u;"
             "print(tabsession.__version__, u.login_url('idle'))")
    found = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True,
                           cwd=tmp_path).stdout.split()
    assert [tabsession.__version__, "/login?reason=idle"] == found


def test_the_server_side_needs_only_starlette_from_its_extra():
    """`tabsession[server]` installs Starlette alone: the API and the memory and SQLite stores
    import with every other third-party package refused (redis only with a Redis store)."""
    refuse = ("redis", "uvicorn", "websockets", "httpx", "fastapi", "webserver", "hypothesis", "pytest")
    probe = f"""
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {refuse!r}:
            raise ImportError("not in tabsession[server]: " + name)
sys.meta_path.insert(0, Refuse())
from tabsession.server.web import TabsessionAPI
from tabsession.server.store_sqlite import SQLiteStore
print(sorted(name for name in sys.modules if name.split(".")[0] in {{"starlette", "anyio"}})[:1])
"""
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           cwd=ROOT, env={"PYTHONPATH": str(ROOT / "app"), "PATH": "/usr/bin:/bin"})
    assert (0, "['anyio']") == (found.returncode, found.stdout.strip()), found.stderr[-2000:]
