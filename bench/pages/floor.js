// The benchmark's floor: the same local MicroPython the app uses, started directly (no PyScript),
// running one line of Python that sets the attribute. {MICROPYTHON} is filled in by bench/run.py.
import { loadMicroPython } from "{MICROPYTHON}";

const micropython = await loadMicroPython({ url: "{MICROPYTHON}".replace(/\.mjs$/, ".wasm") });
micropython.runPython(
  'import js\njs.document.documentElement.setAttribute("data-tab-state", "active")');
