"""Start-up (issue 8): the config inlined into the pages, versioned sources, and MicroPython
bytecode bundles of whole packages (tools/precompile.py).
"""

import json
import re

import pytest

from serve_support import (
    CONFIG_TEMPLATE,
    MICROPYTHON_INTERPRETER,
    PAGE_TEMPLATE,
    build_tree,
    request,
    serve,
    serving,
    write,
)


# The config inlined into the pages, and versioned sources.

INLINE_PAGE = PAGE_TEMPLATE.replace('src="./app/x.py" config="./pyscript.toml"',
                                    'src="/app/x.py" config="/pyscript.toml"')


def inline_tree(tmp_path):
    root = tmp_path / "root"
    build_tree(root, tmp_path / "outside")
    write(root / "index.html", INLINE_PAGE.replace("TITLE", "Index"))
    return root


def entry_config(page: str) -> dict:
    """The JSON inlined in the entry tag's config attribute."""
    import html
    match = re.search(r'<script type="(?:mpy|py)" src="[^"]*" config="([^"]*)"', page)
    return json.loads(html.unescape(match.group(1)))


def test_the_config_is_inlined_with_plugins_off_and_versioned_files(tmp_path):
    """A page naming /pyscript.toml gets it inline as JSON: the interpreter, the unused plugins
    off, and each [files] source with its version, so that no request waits for the config."""
    root = inline_tree(tmp_path)
    versions = serve.SourceVersions()
    config = serve.inline_config(CONFIG_TEMPLATE, serve.RUNTIMES["micropython"], root, versions)

    page = serve.render_page(INLINE_PAGE, {}, serve.RUNTIMES["micropython"], config,
                             lambda url: serve.versioned_url(url, root, versions))

    digits = versions(root / "app" / "x.py")
    assert ({"interpreter": MICROPYTHON_INTERPRETER, "files": {f"./app/x.py?v={digits}": "x.py"},
             "plugins": list(serve.PLUGINS_OFF)},
            True, True) == \
        (entry_config(page), f'src="/app/x.py?v={digits}"' in page,
         '<py-config type="json" hidden>' in page)


def test_for_pyodide_the_other_config_element_is_for_micropython(tmp_path):
    """The plugins of the interpreter type not in use are switched off by its own element."""
    root = inline_tree(tmp_path)
    config = serve.inline_config(CONFIG_TEMPLATE, serve.RUNTIMES["pyodide"], root, serve.SourceVersions())

    page = serve.render_page(INLINE_PAGE, {}, serve.RUNTIMES["pyodide"], config)

    assert (True, False, serve.RUNTIMES["pyodide"].interpreter) == \
        ('<mpy-config type="json" hidden>' in page, "<py-config" in page, entry_config(page)["interpreter"])


def test_a_page_naming_another_config_is_left_alone():
    """Only the entry tag's config="/pyscript.toml" is replaced; other pages keep theirs."""
    page = serve.render_page(PAGE_TEMPLATE, {}, serve.RUNTIMES["micropython"], '{"files": {}}')

    assert ('config="./pyscript.toml"' in page, "-config type" in page) == (True, False)


def test_a_source_is_immutable_only_at_its_current_version(tmp_path):
    """`?v=` with the file's digits may be cached for good; a stale or absent one revalidates."""
    root = inline_tree(tmp_path)
    versions = serve.SourceVersions()
    path = root / "app" / "x.py"
    digits = versions(path)

    actual = [serve.cache_control_for(path, f"/app/x.py?v={digits}", serve.NO_CACHE, versions),
              serve.cache_control_for(path, "/app/x.py?v=0000000000000000", serve.NO_CACHE, versions),
              serve.cache_control_for(path, "/app/x.py", serve.NO_CACHE, versions)]
    write(path, "print('edited')\n")
    actual.append(serve.cache_control_for(path, f"/app/x.py?v={digits}", serve.NO_CACHE, versions))

    assert [serve.IMMUTABLE, serve.NO_CACHE, serve.NO_CACHE, serve.NO_CACHE] == actual


def test_served_page_and_source_carry_the_version(tmp_path):
    """Through the server: the page names the versioned source, which comes back immutable."""
    root = inline_tree(tmp_path)
    with serving(root, tmp=tmp_path) as running:
        page = request(running.port, "/").body.decode()
        url = next(iter(entry_config(page)["files"])).removeprefix(".")
        response = request(running.port, url)

    assert (200, serve.IMMUTABLE) == (response.status, response.headers["Cache-Control"])


# MicroPython bytecode bundles of whole packages (tools/precompile.py; issue 8: start-up).

PACKAGE_CONFIG = f"""interpreter = "{MICROPYTHON_INTERPRETER}"

[files]
"./app/pkg/__init__.py" = "./pkg/__init__.py"
"./app/pkg/y.py" = "./pkg/y.py"
"./app/pkg/sub/z.py" = "./pkg/sub/z.py"
"./app/x.py" = "x.py"
"""
BUNDLE_BYTES = b"M\x06\x00\x1f"


def bundled_tree(tmp_path):
    """inline_tree with a package app/pkg and, as set-up leaves it, its bundle."""
    root = inline_tree(tmp_path)
    write(root / "app/pkg/__init__.py", "")
    write(root / "app/pkg/sub/z.py", "Z = 1\n")
    write(root / "app/pkg/__pycache__/y.cpython-311.py", "not a source\n")
    digits = serve.package_digits(root / "app/pkg", serve.SourceVersions())
    bundle = serve.bundle_path(serve.RUNTIMES["micropython"], "pkg", digits)
    write(root / bundle, BUNDLE_BYTES)
    return root, bundle


def files_for(root, runtime="micropython", text=PACKAGE_CONFIG):
    return json.loads(serve.inline_config(text, serve.RUNTIMES[runtime], root, serve.SourceVersions()))["files"]


def test_micropython_gets_a_whole_package_as_one_bundle(tmp_path):
    """The package's entries become one: the bundle, as the package's __init__.mpy; the file
    outside any package keeps its versioned source."""
    root, bundle = bundled_tree(tmp_path)

    files = files_for(root)

    assert {f"./{bundle}": "./pkg/__init__.mpy",
            f"./app/x.py?v={serve.SourceVersions()(root / 'app/x.py')}": "x.py"} == files


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_a_package_changed_since_set_up_gets_its_sources(tmp_path, change):
    """A bundle of an older version of the package is never used: an edited, added or removed
    file changes the package's digits."""
    root, _ = bundled_tree(tmp_path)
    if change == "edit":
        write(root / "app/pkg/y.py", "Y = 2\n")
    elif change == "add":
        write(root / "app/pkg/new.py", "N = 1\n")
    else:
        (root / "app/pkg/sub/z.py").unlink()

    files = files_for(root)

    assert [] == [source for source in files if source.endswith(".mpy")]


def test_a_config_listing_part_of_a_package_gets_its_sources(tmp_path):
    """The bundle holds every file of the package; a config that lists fewer keeps its own list."""
    root, _ = bundled_tree(tmp_path)
    partial = PACKAGE_CONFIG.replace('"./app/pkg/sub/z.py" = "./pkg/sub/z.py"\n', "")

    files = files_for(root, text=partial)

    assert 3 == len(files) and [] == [source for source in files if source.endswith(".mpy")]


def test_pyodide_never_gets_a_bundle(tmp_path):
    root, _ = bundled_tree(tmp_path)

    files = files_for(root, runtime="pyodide")

    assert 4 == len(files) and [] == [source for source in files if source.endswith(".mpy")]


def test_served_bundle_is_immutable_binary(tmp_path):
    """Through the server: the page's bundle URL answers with the file, cached for good."""
    root, _ = bundled_tree(tmp_path)
    write(root / "pyscript.toml", PACKAGE_CONFIG)
    with serving(root, tmp=tmp_path) as running:
        page = request(running.port, "/").body.decode()
        url = next(source for source in entry_config(page)["files"] if source.endswith(".mpy"))
        response = request(running.port, url.removeprefix("."))

    assert (200, serve.IMMUTABLE, "application/octet-stream", BUNDLE_BYTES) == \
        (response.status, response.headers["Cache-Control"], response.headers["Content-Type"], response.body)
