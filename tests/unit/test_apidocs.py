"""tools/apidocs.py: the API reference builds from the docstrings, and a broken reference or a
pdoc warning fails it (as ``./dev docs`` and CI run it)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "apidocs.py"
LIBRARY = ROOT / "app" / "tabsession"
PROBE = "apidocs_probe"


def load_apidocs():
    spec = importlib.util.spec_from_file_location("apidocs_tool", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


apidocs = load_apidocs()


def test_the_reference_builds_with_a_page_for_every_module(tmp_path):
    """The script as ./dev docs runs it (browser modules on the stand-in pyscript): it succeeds, and
    tabsession.api's page documents create and Session."""
    out = tmp_path / "api"

    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], cwd=ROOT, text=True,
                            capture_output=True, timeout=300)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    pages = {path.relative_to(out).as_posix() for path in out.rglob("*.html")}
    modules = {path.relative_to(LIBRARY.parent).with_suffix("").as_posix().removesuffix("/__init__")
               for path in LIBRARY.rglob("*.py") if "__pycache__" not in path.parts}
    assert pages == {"index.html"} | {module + ".html" for module in modules}
    api = (out / "tabsession" / "api.html").read_text(encoding="utf-8")
    assert 'id="create"' in api and ">create</span>" in api
    assert 'id="Session"' in api and ">Session</span>" in api


def write_probe(folder, docstring, modules=None):
    """A package ``apidocs_probe`` in ``folder``: its docstring, a documented function, and more
    modules (name: source)."""
    package = folder / PROBE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f'"""{docstring}"""\n\n\ndef present():\n    """Here."""\n',
                                         encoding="utf-8")
    for name, source in (modules or {}).items():
        (package / f"{name}.py").write_text(source, encoding="utf-8")


def build_probe(tmp_path):
    path_before = list(sys.path)
    pages, problems = apidocs.build(modules=(PROBE,), out=tmp_path / "out", path=(tmp_path / "src",))
    assert sys.path == path_before
    assert PROBE not in sys.modules
    return pages, problems


@pytest.mark.parametrize("reference", ["apidocs_probe.present", "apidocs_probe.present()", "apidocs_probe",
                                       ".sibling"])
def test_a_reference_that_resolves_builds(tmp_path, reference):
    write_probe(tmp_path / "src", f"See ``{reference}``.", {"sibling": '"""A sibling module."""\n'})

    pages, problems = build_probe(tmp_path)

    assert problems == []
    assert (tmp_path / "out" / "apidocs_probe.html").is_file()
    assert "apidocs_probe/sibling.html" in pages


@pytest.mark.parametrize("code", ["missing", "session.state", "records.latest_time()"])
def test_code_that_names_no_documented_package_is_not_a_reference(tmp_path, code):
    """Only names that start with a documented package (or a dot) are checked."""
    write_probe(tmp_path / "src", f"See ``{code}``.")

    pages, problems = build_probe(tmp_path)

    assert problems == []


@pytest.mark.parametrize("reference", ["apidocs_probe.missing", "apidocs_probe.present.nothing()", ".nowhere"])
def test_a_broken_reference_fails_the_build(tmp_path, reference):
    """pdoc alone would show the name as plain code; the build names it and writes nothing."""
    write_probe(tmp_path / "src", f"See ``{reference}``.")

    pages, problems = build_probe(tmp_path)

    assert problems == [f"apidocs_probe: broken reference ``{reference}``: no documented object has that name"]
    assert not (tmp_path / "out").exists()


def test_a_pdoc_warning_fails_the_build(tmp_path):
    """Here an annotation pdoc cannot read."""
    write_probe(tmp_path / "src", "A probe.", {"typed": 'def typed(value: "NotDefinedAnywhere"):\n    """Typed."""\n'})

    pages, problems = build_probe(tmp_path)

    assert problems == ["pdoc warned: UserWarning: Error parsing type annotation NotDefinedAnywhere for "
                        "apidocs_probe.typed.typed. Import of NotDefinedAnywhere failed: "
                        "name 'NotDefinedAnywhere' is not defined"]
    assert not (tmp_path / "out").exists()


def test_a_socket_someone_else_left_open_does_not_fail_the_build(tmp_path):
    """A ResourceWarning is the garbage collector finding another's open socket (in CI, earlier
    tests' Redis connections collected during the build): not a problem of the docs."""
    write_probe(tmp_path / "src", "A probe.",
                {"leaky": 'import warnings\nwarnings.warn("unclosed transport", ResourceWarning)\n'})

    pages, problems = build_probe(tmp_path)

    assert ([], True) == (problems, "apidocs_probe/leaky.html" in pages)


def test_a_module_that_does_not_import_fails_the_build(tmp_path):
    write_probe(tmp_path / "src", "A probe.", {"broken": "import a_module_that_is_nowhere\n"})

    pages, problems = build_probe(tmp_path)

    assert len(problems) == 1
    assert problems[0].startswith("pdoc stopped: ")
    assert "Error importing apidocs_probe.broken" in problems[0]
    assert "No module named 'a_module_that_is_nowhere'" in problems[0]
    assert not (tmp_path / "out").exists()
