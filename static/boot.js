// While Python boots, say how much of the runtime has arrived: "Loading the Python runtime:
// 3.2 of 9.8 MB", then "Starting Python…" once the downloads are done.
//
// A classic script, deferred, placed before PyScript's core.js: deferred scripts and module
// scripts run in document order, so fetch is wrapped before PyScript or an interpreter can call
// it. PyScript 0.7.31 runs the interpreter on the main thread here (the entry tag has no `worker`
// attribute), and both interpreters fetch their big files with fetch(): Pyodide its lock file,
// pyodide.asm.wasm (WebAssembly.instantiateStreaming) and python_stdlib.zip; MicroPython its
// micropython.wasm. Modules (pyodide.asm.mjs, PyScript's chunks) arrive through import(), which
// no script can watch while it loads; the Resource Timing entries add their sizes once loaded.
//
// The counting never touches what the caller gets: it reads a clone of the response (the body
// is teed), so the caller keeps the browser's own Response, with its URL and type, which
// streaming compilation and Chromium's cache of compiled wasm need. It counts same-origin
// responses under /vendor/ only, writes only inside #starting, and stops once <html
// data-tab-state> leaves "booting" (the wrapper is then removed, or turns into a plain
// pass-through if something wrapped fetch after it).
(function () {
  "use strict";

  var root = document.documentElement;
  if (root.getAttribute("data-tab-state") !== "booting" || typeof window.fetch !== "function") {
    return;
  }

  var MB = 1e6;
  var original = window.fetch;
  var stopped = false;
  var loaded = 0; // bytes that arrived so far
  var total = 0; // sum of the Content-Length of the responses seen so far
  var unknown = false; // some response did not say its length
  var pending = 0; // requests asked for and not yet fully arrived
  var waiting = 0; // of those, the ones whose response (and so its length) has not come yet
  var shown = "";
  var seenEntries = {};

  function underVendor(input) {
    try {
      var address = typeof input === "string" || input instanceof URL ? input : input && input.url;
      var url = new URL(String(address), document.baseURI);
      return url.origin === location.origin && url.pathname.indexOf("/vendor/") === 0;
    } catch (error) {
      return false;
    }
  }

  function megabytes(bytes) {
    return (bytes / MB).toFixed(1);
  }

  function render() {
    if (stopped) {
      return;
    }
    var label = document.getElementById("boot-progress");
    var bar = document.getElementById("boot-progress-bar");
    var box = document.getElementById("starting");
    if (!label) {
      return;
    }
    var text;
    var downloading = pending > 0;
    if (!downloading) {
      text = "Starting Python…";
    } else if (loaded <= 0) {
      text = "Loading the Python runtime…";
    } else if (unknown || waiting > 0 || total <= 0) {
      text = "Loading the Python runtime: " + megabytes(loaded) + " MB so far";
    } else {
      text = "Loading the Python runtime: " + megabytes(Math.min(loaded, total)) + " of " +
        megabytes(total) + " MB";
    }
    if (text !== shown) {
      shown = text;
      label.textContent = text;
    }
    if (box) {
      // A live region that changes ten times a second is noise to a screen reader: hold its
      // announcements while bytes arrive, and let it speak once Python starts.
      box.setAttribute("aria-busy", downloading ? "true" : "false");
    }
    if (bar) {
      bar.hidden = !downloading;
      if (downloading && !unknown && waiting === 0 && total > 0) {
        bar.max = total;
        bar.value = Math.min(loaded, total);
      } else {
        bar.removeAttribute("value"); // indeterminate
      }
    }
  }

  function finish() {
    pending -= 1;
    render();
  }

  function failed() {
    waiting -= 1;
    finish(); // the caller sees the same failure and reports it
  }

  function count(response) {
    waiting -= 1;
    if (stopped || !response || !response.ok || !response.body) {
      finish();
      return;
    }
    var copy;
    try {
      copy = response.clone(); // before the caller reads it: our reaction was registered first
    } catch (error) {
      finish(); // already read: nothing to show
      return;
    }
    var length = Number(response.headers.get("Content-Length"));
    // A compressed body's length counts other bytes than the stream gives: say "so far".
    if (response.headers.get("Content-Encoding") || !(length > 0)) {
      unknown = true;
    } else {
      total += length;
    }
    render();
    var reader = copy.body.getReader();
    function next() {
      if (stopped) {
        reader.cancel().catch(function () {}); // cancels our branch only, not the caller's
        return;
      }
      reader.read().then(function (chunk) {
        if (chunk.done) {
          finish();
          return;
        }
        loaded += chunk.value.byteLength;
        render();
        next();
      }, finish); // the caller sees the same failure on its own branch and reports it
    }
    next();
  }

  function countingFetch(input) {
    var promise = original.apply(window, arguments);
    if (!stopped && underVendor(input)) {
      pending += 1;
      waiting += 1;
      render();
      promise.then(count, failed).catch(function () {}); // a display must never raise
    }
    return promise;
  }

  // Files that came through import() (pyodide.asm.mjs, PyScript's chunks): their sizes, once
  // loaded, so the total covers the whole runtime. Fetched files are counted above instead.
  function addEntries(list) {
    if (stopped) {
      return;
    }
    var added = false;
    list.getEntries().forEach(function (entry) {
      if (entry.initiatorType === "fetch" || seenEntries[entry.name] || !underVendor(entry.name)) {
        return;
      }
      var size = entry.decodedBodySize || entry.encodedBodySize || 0;
      if (size > 0) {
        seenEntries[entry.name] = true;
        loaded += size;
        total += size;
        added = true;
      }
    });
    if (added && pending > 0) {
      render();
    }
  }

  var resources = null;
  if (typeof PerformanceObserver === "function") {
    try {
      resources = new PerformanceObserver(addEntries);
      resources.observe({ type: "resource", buffered: true });
    } catch (error) {
      resources = null;
    }
  }

  var decided = new MutationObserver(function () {
    if (root.getAttribute("data-tab-state") !== "booting") {
      stop();
    }
  });

  function stop() {
    stopped = true;
    decided.disconnect();
    if (resources) {
      resources.disconnect();
    }
    if (window.fetch === countingFetch) {
      window.fetch = original;
    }
    var box = document.getElementById("starting");
    if (box) {
      box.removeAttribute("aria-busy");
    }
  }

  window.fetch = countingFetch;
  decided.observe(root, { attributes: true, attributeFilter: ["data-tab-state"] });
})();
