// Glue the browser demands: start Python (Pyodide, through PyScript) in a worker.
// Everything the page does is written in Python (pyapp.browser); this file only reads the
// asset manifest the server rendered into the page, decides when to start PyScript's worker,
// starts it, and reports loading progress in bytes. It repeats no protocol constant and no
// version number.
//
// When: at once, unless the script says data-start="when-needed" (the app page). Then only
// once the face path becomes likely, so that a person who takes the password path downloads
// nothing heavy: at once if the page opens on a screen marked data-runtime (the face and
// withdraw screens) or with a kiosk token, or when this device keeps the person's template
// (data-returning names its storage key); otherwise as soon as a link to such a screen is
// pointed at, touched or focused, or the page moves to one.
import { camera } from "./camera.js";

const manifest = JSON.parse(document.getElementById("ownface-manifest").textContent);
const script = document.querySelector("script[data-entry]");
const entry = script.dataset.entry;
// the in-browser test run (tests/browser) also installs pytest and its dependencies
const wheels = [...manifest.wheels, ...("testWheels" in script.dataset ? manifest.test_wheels : [])];
const abs = (url) => new URL(url, location.href).href;

const status = (stage, detail = {}) =>
  document.dispatchEvent(new CustomEvent("ownface:loading", { detail: { stage, ...detail } }));

window.ownfaceGlue = Object.assign(window.ownfaceGlue || {}, { camera, manifest });

// PyScript keeps state in IndexedDB, and templates live in localStorage. Inside a frame of
// another site, some browsers deny storage (Chromium by default, private windows, strict
// tracking protection), and a frame in a page that is not cross-origin isolated gets no
// SharedArrayBuffer for Python's worker: then the face path cannot run here, and the page
// says why at once ("unavailable"; the widget then offers its pop-up), else "usable".
const storageUsable = (async () => {
  try {
    localStorage.getItem("ownface/probe");
    await new Promise((resolve, reject) => {
      const request = indexedDB.open("ownface-probe");
      request.onsuccess = () => { request.result.close(); resolve(); };
      request.onerror = (event) => { event.preventDefault(); reject(request.error); };
    });
    return true;
  } catch {
    return false;
  }
})();
const missing = storageUsable.then((ok) => (!ok ? "storage"
  : (window.crossOriginIsolated ? null : "isolation")));

// The face path's files (manifest.downloads: groups of [url, bytes sent, bytes], Python's
// first), fetched into the HTTP cache, where the worker then finds them; the bytes still to
// come are counted as they arrive. A group starts when the one before it is in, so Python's
// files never wait behind the models. When the very first and last files are cached, an
// earlier visit got them all and nothing is counted; when neither is, this is a first visit
// and all are fetched (a question the cache cannot answer costs a console line and time).
async function download(groups) {
  const files = groups.flat();
  const isCached = ([url]) => fetch(url, { cache: "only-if-cached", mode: "same-origin" })
    .then((response) => { response.body?.cancel(); return response.ok; }, () => false);
  const ends = await Promise.all([files[0], files.at(-1)].map(isCached));
  if (ends.every(Boolean)) return;
  const cached = new Set();
  if (ends.some(Boolean)) {
    const answers = await Promise.all(files.map(isCached));
    files.forEach(([url], i) => answers[i] && cached.add(url));
  }
  const todo = groups.map((group) => group.filter(([url]) => !cached.has(url)));
  const sent = new Map(todo.flat().map(([url, size]) => [url, size]));
  const got = new Map();
  const sum = (values) => [...values].reduce((a, b) => a + b, 0);
  let shown = 0;
  const report = (last = false) => {  // a few times a second is enough for a person
    if (!last && performance.now() - shown < 200) return;
    shown = performance.now();
    status("download", { done: sum(got.values()), total: sum(sent.values()) });
  };
  const one = async ([url, , size]) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const length = Number(response.headers.get("content-length"));
    if (length) sent.set(url, length);  // what this browser is sent (brotli, gzip or plain)
    const reader = response.body.getReader();
    for (let seen = 0; ;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.length;  // decoded bytes: scaled to the bytes sent
      got.set(url, Math.round(sent.get(url) * Math.min(1, seen / size)));
      report();
    }
    got.set(url, sent.get(url));
    report();
  };
  report(true);
  for (const group of todo) {
    const queue = [...group];
    await Promise.all([1, 2, 3, 4].map(async () => {  // a few at a time, in order
      while (queue.length) await one(queue.shift());
    }));
  }
  report(true);
}

let started = false;
async function start() {
  if (started) return;
  started = true;
  const reason = await missing;
  if (reason) {
    status("unavailable", { reason });
    return;
  }
  status("runtime");
  const downloads = download(manifest.downloads).then(() => status("downloaded"));
  const begun = performance.now();
  try {
    const { PyWorker } = await import(manifest.pyscript);
    const worker = await PyWorker(abs(entry), {
      version: abs(manifest.pyodide),
      config: {
        packages: ["numpy", ...wheels.map(abs)],
        js_modules: { worker: { [abs(manifest.ort)]: "ort" } },
        // "passthrough": Pyodide loads these itself while it starts, without micropip
        // (docs/startup.md: Python ready ~1 s sooner cold, 0.3 s warm). Not "auto": its
        // IndexedDB lock cache is handed over as a blob: URL, which the CSP refuses.
        packages_cache: "passthrough",
      },
    });
    window.ownfaceGlue.worker = worker;
    window.ownfaceGlue.readyMs = performance.now() - begun;
    status("started");
    await downloads;
  } catch (error) {
    status("failed", { reason: String(error) });
    throw error;
  }
}

function whenNeeded() {
  const needs = (hash) => {
    const screen = hash.length > 1 && document.getElementById(hash.slice(1));
    return Boolean(screen && "runtime" in screen.dataset);
  };
  let returning = false;
  try {
    returning = Boolean(script.dataset.returning) &&
      localStorage.getItem(script.dataset.returning) !== null;
  } catch { /* storage denied: start() says so */ }
  if (returning || needs(location.hash) || location.hash.startsWith("#kiosk=")) return start();
  const signals = ["pointerover", "pointerdown", "touchstart", "focusin"];
  const intent = (event) => {
    const link = event.target.closest?.("a[href^='#']");
    if (link && needs(link.hash)) go();
  };
  const moved = () => { if (needs(location.hash)) go(); };
  const go = () => {
    for (const type of signals) document.removeEventListener(type, intent, true);
    window.removeEventListener("hashchange", moved);
    start();
  };
  for (const type of signals) document.addEventListener(type, intent, { capture: true, passive: true });
  window.addEventListener("hashchange", moved);
}

if (script.dataset.start === "when-needed") {
  // the widget's host page learns at once whether the face path can work in this frame
  const reason = await missing;
  if (reason) {
    status("unavailable", { reason });
  } else {
    status("usable");
    whenNeeded();
  }
} else {
  start();
}
