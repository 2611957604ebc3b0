"""The one place that knows how Pyodide and MicroPython differ, and the JS helpers.

- ``is_none`` / ``text``: JS ``null``/``undefined`` arrive differently on each interpreter.
- ``callback``: Pyodide needs a persistent proxy for functions handed to JS; MicroPython
  takes them as they are. Proxies are kept referenced here so they are never collected.
- ``listen``: adds event listeners (see its docstring for the MicroPython trap it avoids).
- ``helpers``: a few lines of JavaScript for what Python cannot do safely on MicroPython:
  catching exceptions thrown synchronously inside a JS call (``setItem`` over quota, storage
  access blocked, even ``getItem`` once a page's storage is revoked) aborts a MicroPython
  script (docs/rules.md, "Platform facts"), so every storage access goes through them. They are built with
  ``Function`` because PyScript itself already requires ``'unsafe-eval'``; that keeps the
  library a set of Python files with no extra ``<script>`` to include.
Numbers that can exceed 32 bits (epoch milliseconds) never cross the boundary: time is read
with Python's ``time.time()``, which has millisecond precision on both interpreters.
"""

import sys

from pyscript import document, window  # noqa: F401  (re-exported for the other adapters)
from pyscript.ffi import create_proxy, is_none as _is_none

RUNTIME = "micropython" if sys.implementation.name == "micropython" else "pyodide"

_kept = []

HELPERS_SOURCE = """
"use strict";
const held = new Map();
const areaOf = (name) => name === "local" ? window.localStorage : window.sessionStorage;
const errorName = (error) => String((error && error.name) || error);
const request = (name, options, body) => navigator.locks.request(name, options, body);
function keep(name, lock, onLost, promiseOfRequest) {
  promiseOfRequest.catch((error) => {
    if (held.get(name) === lock) { held.delete(name); onLost(name, errorName(error)); }
  });
}
return {
  storageProblem() {
    try {
      for (const name of ["local", "session"]) {
        const area = areaOf(name);
        const key = "tabsession:probe";
        area.setItem(key, "1");
        area.getItem(key);
        area.removeItem(key);
      }
      return null;
    } catch (error) {
      return errorName(error);
    }
  },
  readItem(areaName, key, maxChars) {
    try {
      const value = areaOf(areaName).getItem(key);
      return { error: null, value: value === null ? null : String(value).slice(0, maxChars) };
    } catch (error) {
      return { error: errorName(error), value: null };
    }
  },
  readItems(areaName, keysJson, maxChars) {
    // The values of the keys named in keysJson, in order, as one JSON array (null: no item).
    // By name only: walking every key costs time in proportion to what other code stores.
    try {
      const area = areaOf(areaName);
      const values = JSON.parse(keysJson).map((key) => {
        const value = area.getItem(key);
        return value === null ? null : String(value).slice(0, maxChars);
      });
      return { error: null, values: JSON.stringify(values) };
    } catch (error) {
      return { error: errorName(error), values: "[]" };
    }
  },
  write(areaName, key, value) {
    try {
      const area = areaOf(areaName);
      if (value === null || value === undefined) area.removeItem(key);
      else area.setItem(key, value);
      return null;
    } catch (error) {
      return errorName(error);
    }
  },
  randomHex(bytes) {
    const values = new Uint8Array(bytes);
    window.crypto.getRandomValues(values);
    return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
  },
  hasLocks() {
    try { return !!(window.isSecureContext && navigator.locks && navigator.locks.request); }
    catch (error) { return false; }
  },
  hasChannel() {
    try { return typeof window.BroadcastChannel === "function"; }
    catch (error) { return false; }
  },
  claim(name, done, onLost) {
    // Take the lock if it is free and keep it, in one request (see ClaimTabLock).
    let answered = false;
    const answer = (claimed) => { if (!answered) { answered = true; done(claimed); } };
    const token = {};
    const whenReleased = new Promise((resolve) => { token.release = resolve; });
    const requestPromise = request(name, { ifAvailable: true }, (lock) => {
      if (lock === null) { answer(false); return null; }
      held.set(name, token);
      answer(true);
      return whenReleased;
    });
    keep(name, token, onLost, requestPromise);
    requestPromise.catch(() => answer(true));  // locks failing: keep the id rather than loop
  },
  hold(name, onLost) {
    let release;
    const token = {};
    const whenReleased = new Promise((resolve) => { release = resolve; });
    held.set(name, token);
    keep(name, token, onLost, request(name, {}, () => whenReleased));
    token.release = release;
  },
  async acquire(namesJson, steal, done, onLost) {
    const names = JSON.parse(namesJson);
    for (let index = 0; index < names.length; index++) {
      const name = names[index];
      const token = {};
      let granted;
      const grantedPromise = new Promise((resolve) => { granted = resolve; });
      const options = steal ? { steal: true } : { ifAvailable: true };
      const whenReleased = new Promise((resolve) => { token.release = resolve; });
      const requestPromise = request(name, options, (lock) => {
        if (lock === null) { granted(false); return null; }
        held.set(name, token);
        granted(true);
        return whenReleased;
      });
      keep(name, token, onLost, requestPromise);
      requestPromise.catch(() => granted(false));
      if (await grantedPromise) { done(index); return; }
    }
    done(-1);
  },
  release(name) {
    const token = held.get(name);
    if (token) { held.delete(name); token.release(); }
  },
  heldNames(done) {
    navigator.locks.query().then(
      (state) => done(JSON.stringify(state.held.map((lock) => lock.name))),
      () => done(null));
  },
  listen(where, type, handler, capture) {
    const target = where === "window" ? window
      : where === "document" ? document : document.getElementById(where);
    if (target) target.addEventListener(type, handler, !!capture);
    return !!target;
  },
  send(method, path, body, credentials, keepalive, id, done) {
    // One request to this page's own server; done(id, status, text), status 0 when none came.
    const headers = { "Content-Type": "application/json", "X-Tabsession": "1" };
    if (credentials) headers["X-Tabsession-Tab"] = credentials;
    const init = { method, headers, credentials: "same-origin", cache: "no-store", keepalive: !!keepalive };
    if (body !== null && body !== undefined) init.body = body;
    let answered = false;
    const answer = (status, text, now) => {
      if (!answered) { answered = true; done(id, status, text, now === undefined ? null : now); }
    };
    const timer = setTimeout(() => answer(0, "", null), 10000);
    try {
      fetch(path, init).then(
        (response) => response.text().then(
          (text) => { clearTimeout(timer); answer(response.status, text.slice(0, 65536), response.headers.get("X-Tabsession-Now")); },
          () => { clearTimeout(timer); answer(response.status, "", null); }),
        () => { clearTimeout(timer); answer(0, "", null); });
    } catch (error) {
      clearTimeout(timer);
      setTimeout(() => answer(0, "", null), 0);
    }
  },
  monotonic() {
    // Seconds since the page started, from a clock no change of the system's time moves.
    return performance.now() / 1000;
  },
  openPush(path, hello, id, onText, onClose) {
    // A WebSocket to this page's own server that says `hello` once open; onText(id, text) per
    // message, onClose(id) once.
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let socket = null;
    let closed = false;
    const close = () => { if (!closed) { closed = true; onClose(id); } };
    try { socket = new WebSocket(url.href); } catch (error) { setTimeout(close, 0); }
    if (socket) {
      socket.addEventListener("open", () => {
        if (closed) { socket.close(); return; }  // given up while it was connecting
        try { socket.send(hello); } catch (error) { close(); }
      });
      socket.addEventListener("message", (event) => {
        if (!closed && typeof event.data === "string") onText(id, event.data.slice(0, 4096));
      });
      socket.addEventListener("close", close);
    }
    // A socket still connecting is closed once open, not now: Firefox reports closing it
    // mid-handshake as a page error ("can't establish a connection"), as if the server had failed.
    return { close() {
      closed = true;
      if (socket && socket.readyState !== WebSocket.CONNECTING) socket.close();
    } };
  },
  openWakeUps(channelName, prefix, gapMs, maxChars, maxTexts, onBatch) {
    // BroadcastChannel messages (when channelName is given) and storage events for keys under
    // prefix, merged: Python hears one batch at a time, at most one per gapMs, however many
    // arrive (each crossing into Python costs far more than an event here). A batch is JSON:
    // the distinct message texts (at most maxTexts, each cut to maxChars), how many more
    // strings came, how many non-strings, and how many storage events. Each text comes with
    // how many times it came.
    // <html data-wake-signals> (messages and storage events heard) and data-wake-batches (the
    // batches handed to Python) show the merging to tests and the curious, updated per batch.
    let texts = [], more = 0, junk = 0, events = 0, scheduled = false, resting = false;
    let signals = 0, batches = 0;
    const pending = () => texts.length > 0 || more > 0 || junk > 0 || events > 0;
    const kick = () => {
      if (!scheduled && !resting && pending()) { scheduled = true; setTimeout(deliver, 0); }
    };
    const deliver = () => {
      scheduled = false;
      if (!pending()) return;
      const batch = JSON.stringify({ texts, more, junk, events });
      texts = []; more = 0; junk = 0; events = 0;
      resting = true;
      setTimeout(() => { resting = false; kick(); }, gapMs);
      batches++;
      const dataset = document.documentElement.dataset;
      dataset.wakeSignals = String(signals);
      dataset.wakeBatches = String(batches);
      onBatch(batch);
    };
    let channel = null;
    if (channelName && typeof window.BroadcastChannel === "function") {
      channel = new BroadcastChannel(channelName);
      channel.addEventListener("message", (event) => {
        signals++;
        const data = event.data;
        if (typeof data !== "string") junk++;
        else {
          const cut = data.slice(0, maxChars);
          const seen = texts.find((entry) => entry[0] === cut);
          if (seen) seen[1]++;  // the same text again: checked once, counted each time
          else if (texts.length < maxTexts) texts.push([cut, 1]);
          else more++;
        }
        kick();
      });
    }
    window.addEventListener("storage", (event) => {
      // key is null when another page called clear(): everything may have changed. Keys of
      // other code never reach Python.
      if (event.key === null || String(event.key).startsWith(prefix)) { signals++; events++; kick(); }
    });
    return { broadcast: channel !== null, post(text) { if (channel) channel.postMessage(text); } };
  },
};
"""

helpers = window.Function(HELPERS_SOURCE)()


def is_none(value):
    """True for Python None and JS null on both interpreters."""
    if value is None:
        return True
    return bool(_is_none(value))


def text(value):
    """A Python str for a JS string, None for anything else (null, undefined, objects)."""
    if is_none(value):
        return None
    return value if isinstance(value, str) else None


def callback(function):
    """A JS-callable function that stays alive for the page's lifetime."""
    proxy = create_proxy(function)
    _kept.append(proxy)
    return proxy


def listen(where, event_type, function, capture=False):
    """Add an event listener to "window", "document" or the element with id ``where``.

    Done in JS, with the target named by a string: on MicroPython 1.27, after Python has
    called ``addEventListener`` on a BroadcastChannel, calling it on ``window`` (directly, or
    by passing ``window`` back into JS) fails with "Illegal invocation". Returns whether the
    target exists.
    """
    return bool(helpers.listen(where, event_type, callback(function), bool(capture)))


def random_id():
    """128 bits from the browser's CSPRNG as 32 lowercase hex digits."""
    return str(helpers.randomHex(16))
