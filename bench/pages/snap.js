// The benchmark's Pyodide-without-PyScript page: the app's own page `/` (its HTML, its
// app/pages/main.py, tabsession's real core and browser adapter), with PyScript replaced by
// this loader and a tiny `pyscript` shim module (window, document, ffi.create_proxy, ffi.is_none).
//
// Filled in by bench/run.py:
//   {PYODIDE}   the local pyodide.mjs (absolute path)
//   {SNAPSHOT}  the memory snapshot's URL, or "" to boot without one
//   {FILES}     JSON: pyscript.toml's [files] as [[url, path in Pyodide's file system], ...]
//   {EARLY}     JSON: the modules a snapshot holds already imported (the pure core)
//   {ENTRY}     the entry script's path in the file system (pages/main.py)
//
// With a snapshot, the page fetches it and hands it to loadPyodide's private `_loadSnapshot`
// option; if that fails (a snapshot of another Pyodide build, a truncated or corrupt file) it says
// so on the console and boots normally. `<html data-boot>` tells the bench which way it booted.
//
// The same file builds the snapshot when loaded as `/?snapshot=build`: Pyodide's private
// `_makeSnapshot` option, the core written and imported, `makeMemorySnapshot()`, and the bytes
// handed to the browser as a download (bench/run.py saves it).
import { loadPyodide, version } from "{PYODIDE}";

const INDEX_URL = "{PYODIDE}".replace(/[^/]*$/, "");
// `?snapshot-file=NAME` boots from another file of the snapshot's folder (the bench's damaged
// copies, to see what a mismatched or corrupt snapshot does).
// `?verify=0` skips the page's own check of the file against the manifest written beside it,
// `?verify=none` every check of the page's own (what Pyodide alone does with a damaged file).
const params = new URLSearchParams(location.search);
const OTHER = params.get("snapshot-file");
const snapshotUrl = "{SNAPSHOT}" && OTHER && /^[\w.-]+$/.test(OTHER)
  ? "{SNAPSHOT}".replace(/[^/]*$/, OTHER) : "{SNAPSHOT}";
const VERIFY = !["0", "none"].includes(params.get("verify"));
const CHECK_LAYOUT = params.get("verify") !== "none";
const FILES = {FILES};
const EARLY = {EARLY};
const ENTRY = "{ENTRY}";
const BUILD = params.get("snapshot") === "build";
const root = document.documentElement;
// Where the time goes: ms since navigation start at each step, in <html data-boot-marks> (JSON).
const marks = {};
const mark = (name) => {
  marks[name] = Math.round(performance.now());
  root.setAttribute("data-boot-marks", JSON.stringify(marks));
};
mark("module");

const fetchOk = async (url, how) => {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  if (how !== "bytes") return response.text();
  if (!url.endsWith(".gz.zip")) return new Uint8Array(await response.arrayBuffer());
  // A gzip stream (named .zip for serve.py's allow-list): inflated as it arrives.
  const inflated = response.body.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(inflated).arrayBuffer());
};

// Which files the page still needs: with a snapshot, the core's modules are already imported.
const isEarly = (path) => EARLY.some((name) => path === name.replaceAll(".", "/") + ".py"
  || path === name.replaceAll(".", "/") + "/__init__.py");
const snapshotAsked = snapshotUrl !== "" && !BUILD;
const wanted = (early) => FILES.filter(([, path]) => early === null || isEarly(path) === early);
const sources = new Map();
const source = ([url, path]) => {
  if (!sources.has(path)) sources.set(path, fetchOk(url));
  return sources.get(path);
};
// Fetches start at once, in parallel with Pyodide's own downloads: with a snapshot only the
// files it does not hold, when building only the ones it will hold, otherwise all.
for (const file of wanted(BUILD ? true : snapshotAsked ? false : null)) source(file).catch(() => {});
let snapshotBytes = snapshotAsked ? fetchOk(snapshotUrl, "bytes") : null;
snapshotBytes?.catch(() => {});  // handled where it is awaited
// The manifest bench/run.py writes beside the snapshot: {sha256, bytes, pyodide}.
const manifest = snapshotAsked && VERIFY
  ? fetchOk("{SNAPSHOT}".replace(/(\.gz)?\.[^./]*$/, ".json")).then(JSON.parse) : null;
manifest?.catch(() => {});

async function writeFiles(pyodide, files) {
  for (const file of files) {
    const path = file[1];
    const folder = path.includes("/") ? path.replace(/\/[^/]*$/, "") : ".";
    pyodide.FS.mkdirTree(folder);
    pyodide.FS.writeFile(path, await source(file));
  }
}

function importEarly(pyodide) {
  pyodide.runPython(EARLY.map((name) => `import ${name}`).join("\n"));
}

// A snapshot's layout (Pyodide 314's API.makeSnapshot): 32-bit words, [0] a magic number,
// [1] the offset of the memory image, [2] the length of a JSON header, then the build id; the
// image is the wasm memory, whole 64 KiB pages. Checked before Pyodide sees it, so that a
// truncated file is refused with a clear message instead of a half-restored interpreter.
async function checkSnapshot(bytes) {
  if (!CHECK_LAYOUT) return;
  if (bytes.byteLength < 64 || bytes.byteLength % 4) throw new Error(`${bytes.byteLength} bytes is not a snapshot`);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, 4);
  const image = bytes.byteLength - words[1];
  if (words[1] > bytes.byteLength || image <= 0 || image % 65536) {
    throw new Error(`truncated or damaged: a memory image of ${image} bytes is not whole 64 KiB pages`);
  }
  if (!VERIFY) return;
  // Pyodide checks only the magic number and its build id: a damaged memory image can restore
  // "fine". The manifest's digest catches that (and a snapshot of another Pyodide version).
  const expected = await manifest;
  if (expected.pyodide !== version) throw new Error(`made for Pyodide ${expected.pyodide}, not ${version}`);
  const started = performance.now();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  root.setAttribute("data-snapshot-verify-ms", (performance.now() - started).toFixed(1));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  if (bytes.byteLength !== expected.bytes || hex !== expected.sha256) {
    throw new Error(`its SHA-256 or size differs from the manifest's (damaged or replaced)`);
  }
}

async function boot() {
  if (snapshotAsked) {
    try {
      const bytes = await snapshotBytes;
      mark("snapshot_fetched");
      await checkSnapshot(bytes);
      mark("snapshot_checked");
      snapshotBytes = null;
      const pyodide = await loadPyodide({ indexURL: INDEX_URL, _loadSnapshot: bytes });
      // Pyodide copied the image into its memory; its config would keep the file's bytes alive
      // (31 MB per tab) for the page's lifetime.
      if (pyodide._api?.config) pyodide._api.config._loadSnapshot = null;
      // The snapshot's import of the core must have survived (a damaged image may not say so
      // otherwise).
      pyodide.runPython(`import sys\nassert all(n in sys.modules for n in ${JSON.stringify(EARLY)})`);
      return { pyodide, files: wanted(false), boot: "snapshot" };
    } catch (error) {
      console.warn(`bench: the Pyodide ${version} memory snapshot ${snapshotUrl} could not be used`
        + ` (${String(error).split("\n")[0]}); booting Pyodide without it`);
      root.setAttribute("data-boot-problem", String(error).split("\n")[0]);
      const pyodide = await loadPyodide({ indexURL: INDEX_URL });
      return { pyodide, files: wanted(null), boot: "fallback" };
    }
  }
  const pyodide = await loadPyodide(BUILD ? { indexURL: INDEX_URL, _makeSnapshot: true } : { indexURL: INDEX_URL });
  return { pyodide, files: wanted(null), boot: BUILD ? "build" : "plain" };
}

const SHIM = `
import sys, types
import js
from pyodide.ffi import create_proxy, jsnull
ffi = types.ModuleType("pyscript.ffi")
ffi.create_proxy = create_proxy
ffi.is_none = lambda value: value is None or value is jsnull
pyscript = types.ModuleType("pyscript")
pyscript.window = js
pyscript.document = js.document
pyscript.ffi = ffi
sys.modules["pyscript"] = pyscript
sys.modules["pyscript.ffi"] = ffi
# Forget the import system's folder listings, made before these files were written (in the
# snapshot's case, at build time). Not importlib.invalidate_caches(): that also imports
# importlib.metadata, 30 ms here and 65-80 ms right after a restore.
sys.path_importer_cache.clear()
`;

async function build(pyodide, files) {
  const started = performance.now();
  await writeFiles(pyodide, files.filter(([, path]) => isEarly(path)));
  importEarly(pyodide);
  const bytes = pyodide.makeMemorySnapshot();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([bytes]));
  link.download = "pyodide-snapshot.bin";
  root.setAttribute("data-snapshot-bytes", String(bytes.byteLength));
  root.setAttribute("data-snapshot-ms", String(performance.now() - started));
  document.body.append(link);
  link.click();
}

const { pyodide, files, boot: how } = await boot();
mark("pyodide_loaded");
root.setAttribute("data-boot", how);
if (BUILD) {
  await build(pyodide, files);
} else {
  await writeFiles(pyodide, files);
  mark("files_written");
  if (how !== "snapshot") importEarly(pyodide);  // what the snapshot holds, done here: like for like
  pyodide.runPython(SHIM);
  mark("core_imported_shim_run");
  document.dispatchEvent(new Event("py:ready"));  // the bench's "Python starts" mark, as PyScript's
  pyodide.runPython(await source(FILES.find(([, path]) => path === ENTRY)));
  mark("entry_ran");
}
