"""What the bench runs in its pages: the trace every page keeps (an init script), the
expressions that read it, and the async helpers that read tabs' traces and states.
"""

import asyncio
import time


# When a page's sign-in form can be used: #login-form rendered (not hidden, not
# `visibility: hidden`, in the layout) and its submit button enabled. A JS function of no
# arguments, true or false; the trace (its "form" entries) and Bench.journey both use it.
FORM_USABLE = """() => {
  const form = document.getElementById("login-form");
  const button = form && form.querySelector("button[type=submit]");
  if (!button || button.matches(":disabled")) return false;
  return form.checkVisibility ? form.checkVisibility({visibilityProperty: true})
    : form.offsetParent !== null && getComputedStyle(form).visibility !== "hidden";
}"""

# In every page, before its own scripts: a trace of <html data-tab-state> (and, with TABS, of
# the #tabs list), of the sign-in form becoming usable or not, of clicks, and one entry per
# document loaded in the tab, appended to sessionStorage so it survives navigations.
# Each entry: {kind, at: epoch ms (timeOrigin + now), t: ms since this document's navigation
# start, path, state | list | id | usable | nav}.
TRACE_JS = """
(() => {
  if (window.top !== window) return;
  const KEY = "__bench.trace";
  const WATCH_TABS = %(tabs)s;
  const push = (entry) => {
    entry.path = location.pathname + location.search;
    try {
      const list = JSON.parse(sessionStorage.getItem(KEY) || "[]");
      list.push(entry);
      sessionStorage.setItem(KEY, JSON.stringify(list));
    } catch (error) { /* storage blocked: the entry is lost */ }
  };
  const stamp = (entry) => {
    const now = performance.now();
    entry.t = now;
    entry.at = performance.timeOrigin + now;
    return entry;
  };
  push({kind: "state", state: "booting", t: 0, at: performance.timeOrigin});
  // This document (the script runs once in each): how it was loaded (navigate, reload, ...).
  const navigation = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
  push({kind: "document", t: 0, at: performance.timeOrigin, nav: navigation ? navigation.type : ""});
  let lastState = "booting";
  let lastList = "";
  // The sign-in form: an entry each time it becomes usable (usable: true) or stops being usable.
  const formUsable = %(form_usable)s;
  let lastForm = false;
  const checkForm = () => {
    let usable = false;
    try { usable = formUsable(); } catch (error) { /* no document body yet */ }
    if (usable !== lastForm) {
      lastForm = usable;
      push(stamp({kind: "form", usable}));
    }
  };
  const check = () => {
    const root = document.documentElement;
    const state = root && root.getAttribute("data-tab-state");
    if (state !== null && state !== lastState) {
      lastState = state;
      push(stamp({kind: "state", state, id: root.getAttribute("data-tab-id") || ""}));
    }
    if (WATCH_TABS) {
      const list = Array.from(document.querySelectorAll("#tabs li[data-tab-id]"),
                              (li) => li.dataset.tabId + "=" + li.dataset.state).join(",");
      if (list !== lastList) {
        lastList = list;
        push(stamp({kind: "tabs", list}));
      }
    }
    checkForm();
  };
  // hidden, disabled, class, style: what shows the sign-in form and enables its button.
  const options = WATCH_TABS
    ? {subtree: true, childList: true, attributes: true,
       attributeFilter: ["data-tab-state", "data-state", "hidden", "disabled", "class", "style"]}
    : {subtree: true, attributes: true,
       attributeFilter: ["data-tab-state", "hidden", "disabled", "class", "style"]};
  new MutationObserver(check).observe(document, options);
  if (WATCH_TABS) {
    // When the wake-ups arrive (BroadcastChannel message, storage event), to tell delivery from
    // the work a tab does once woken. Registered before the page's own listeners.
    addEventListener("storage", () => push(stamp({kind: "wake", via: "storage"})), true);
    const Native = window.BroadcastChannel;
    if (Native) {
      window.BroadcastChannel = class extends Native {
        constructor(name) {
          super(name);
          super.addEventListener("message", () => push(stamp({kind: "wake", via: "message"})));
        }
      };
    }
    // The server authority's push (a WebSocket message: "moved", "ended").
    const NativeSocket = window.WebSocket;
    if (NativeSocket) {
      window.WebSocket = class extends NativeSocket {
        constructor(...args) {
          super(...args);
          super.addEventListener("message", () => push(stamp({kind: "wake", via: "push"})));
        }
      };
    }
  }
  // The page's requests to the server's API (the server authority: POST /api/places claims the
  // tab's place before it may be active), each with when it was sent and when its answer was read.
  const nativeFetch = window.fetch;
  if (nativeFetch) {
    window.fetch = function (input, init) {
      const url = new URL(typeof input === "string" ? input : input.url, location.href);
      const promise = nativeFetch.apply(this, arguments);
      if (url.pathname.startsWith("/api/")) {
        const entry = stamp({kind: "api", method: (init && init.method) || "GET", api: url.pathname});
        // end: the answer's head (fetch resolved); body: its body read (from a clone).
        const done = (status) => { entry.end = performance.now(); entry.status = status; };
        promise.then((response) => {
          done(response.status);
          response.clone().text().then(() => { entry.body = performance.now(); push(entry); },
                                       () => push(entry));
        }, () => { done(0); push(entry); });
      }
      return promise;
    };
  }
  // PyScript's own events on the <script type="mpy|py"> element: "ready" when the interpreter
  // is up and the page's Python is about to run, "done" when it has run.
  for (const type of ["mpy", "py"]) {
    for (const name of ["ready", "done"]) {
      document.addEventListener(type + ":" + name, () => push(stamp({kind: "pyscript", event: name})), true);
    }
  }
  // The rule every page keeps (issue 8 asks the bench to check it): the protected element #app
  // is never rendered while the tab is not active. Looked at on every animation frame, which is
  // before every paint (a page in the background paints nothing and gets no frames).
  let paintedEarly = false;
  const watchPaint = () => {
    const app = document.getElementById("app");
    const state = document.documentElement && document.documentElement.getAttribute("data-tab-state");
    if (!paintedEarly && app && state !== "active"
        && (app.checkVisibility ? app.checkVisibility() : app.getClientRects().length > 0)) {
      paintedEarly = true;
      push(stamp({kind: "painted-early", state}));
    }
    checkForm();  // a change no attribute shows (a style sheet arriving): seen before the paint
    requestAnimationFrame(watchPaint);
  };
  requestAnimationFrame(watchPaint);
  addEventListener("click", (event) => {
    const target = event.target && event.target.closest ? event.target.closest("[id]") : null;
    push(stamp({kind: "click", id: target ? target.id : ""}));
  }, true);
})();
"""


def trace_script(tabs=False):
    """TRACE_JS for a context: `tabs` also traces the #tabs list and wake-ups."""
    return TRACE_JS % {"tabs": "true" if tabs else "false", "form_usable": FORM_USABLE}


READ_TRACE = "() => JSON.parse(sessionStorage.getItem('__bench.trace') || '[]')"
READ_STATE = """() => ({state: document.documentElement.getAttribute('data-tab-state'),
  id: document.documentElement.getAttribute('data-tab-id'), path: location.pathname + location.search})"""
# How the bench's own Pyodide pages booted (bench/pages/snap.js); nulls on other pages.
READ_BOOT = """() => ({boot: document.documentElement.getAttribute('data-boot'),
  verify_ms: document.documentElement.getAttribute('data-snapshot-verify-ms'),
  marks: JSON.parse(document.documentElement.getAttribute('data-boot-marks') || 'null')})"""
DECIDED = 'html[data-tab-state]:not([data-tab-state="booting"])'


async def collect_garbage(context):
    """A full garbage collection in every page of `context`, so memory is what is live."""
    for page in context.pages:
        try:
            session = await context.new_cdp_session(page)
            await session.send("HeapProfiler.collectGarbage")
            await session.detach()
        except Exception:  # noqa: BLE001 - a page that closed meanwhile
            pass


async def read_trace(page):
    for _ in range(50):  # a page in mid-navigation has no document for a moment
        try:
            return await page.evaluate(READ_TRACE)
        except Exception:  # noqa: BLE001 - Playwright's "execution context was destroyed"
            await asyncio.sleep(0.05)
    return []


async def read_state(page):
    for _ in range(50):
        try:
            return await page.evaluate(READ_STATE)
        except Exception:  # noqa: BLE001
            await asyncio.sleep(0.05)
    return {"state": None, "id": None, "path": ""}


async def wait_until(pages, settled, timeout_ms):
    """Poll every tab's state until `settled(states)`; the states, or TimeoutError."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        states = list(await asyncio.gather(*(read_state(page) for page in pages)))
        if settled(states):
            return states
        if time.monotonic() > deadline:
            raise TimeoutError("tabs did not settle: " + ", ".join(
                f"{s['state']}@{s['path']}" for s in states))
        await asyncio.sleep(0.05)


async def clear_session(context, server):
    """Sign out through a fresh tab so the next repetition starts from a signed-out profile."""
    page = await context.new_page()
    await page.goto(server("/login"), wait_until="commit")
    await page.evaluate("() => localStorage.clear()")
    await page.close()


# The push phase: every WebSocket a page makes, counted in the page (before its own scripts):
# made (constructed), opened (its `open` event), closed (its `close` event), and those OPEN now.
SOCKETS_JS = """
(() => {
  if (window.top !== window || !window.WebSocket) return;
  const Native = window.WebSocket;
  const counts = {made: 0, opened: 0, closed: 0, urls: []};
  const live = new Set();
  Object.defineProperty(window, "__benchSockets", {value: () => ({
    made: counts.made, opened: counts.opened, closed: counts.closed, urls: counts.urls.slice(),
    open: Array.from(live).filter((socket) => socket.readyState === Native.OPEN).length})});
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      counts.made += 1;
      counts.urls.push(new URL(String(args[0]), location.href).pathname);
      live.add(this);
      super.addEventListener("open", () => { counts.opened += 1; });
      super.addEventListener("close", () => { counts.closed += 1; live.delete(this); });
    }
  };
})();
"""
READ_SOCKETS = "() => window.__benchSockets ? window.__benchSockets() : null"
# What the page's own loads waited for (Resource Timing, the navigation and every resource): the
# time from a request's start to its request being sent (queueing for a connection, connecting;
# zero for a reused idle connection) and to its answer's end, for those that went to the network
# (a cache hit has transferSize 0); and the /api/ requests on their own.
READ_WAITS = """() => {
  const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
  const network = entries.filter((e) => e.transferSize > 0 && e.requestStart > 0);
  const queued = network.map((e) => e.requestStart - e.startTime);
  const api = network.filter((e) => new URL(e.name).pathname.startsWith("/api/"));
  const worst = network[queued.indexOf(Math.max(...queued))];
  return {requests: entries.length, network: network.length,
          queued_max: queued.length ? Math.max(...queued) : 0,
          queued_sum: queued.reduce((a, b) => a + b, 0),
          worst: worst ? {path: new URL(worst.name).pathname, start: worst.startTime,
                          connect: worst.connectEnd - worst.connectStart,
                          queued: worst.requestStart - worst.startTime} : null,
          api: api.map((e) => ({path: new URL(e.name).pathname, queued: e.requestStart - e.startTime,
                                total: e.responseEnd - e.startTime}))};
}"""


async def read_sockets(page):
    try:
        return await page.evaluate(READ_SOCKETS)
    except Exception:  # noqa: BLE001 - a page in mid-navigation
        return None
