// Glue the browser demands: start Python (Pyodide, through PyScript) in a worker.
// Everything the page does is written in Python (pyapp.browser); this file only reads the
// asset manifest the server rendered into the page, starts PyScript's worker with it, and
// reports loading progress. It repeats no protocol constant and no version number.
import { camera } from "./camera.js";

const manifest = JSON.parse(document.getElementById("ownface-manifest").textContent);
const script = document.querySelector("script[data-entry]");
const entry = script.dataset.entry;
// the in-browser test run (tests/browser) also installs pytest and its dependencies
const wheels = [...manifest.wheels, ...("testWheels" in script.dataset ? manifest.test_wheels : [])];
const abs = (url) => new URL(url, location.href).href;

const status = (stage, detail = "") =>
  document.dispatchEvent(new CustomEvent("ownface:loading", { detail: { stage, detail } }));

window.ownfaceGlue = Object.assign(window.ownfaceGlue || {}, { camera, manifest });

// PyScript keeps state in IndexedDB, and templates live in localStorage. Inside a frame of
// another site, some browsers deny storage (private windows, strict tracking protection):
// then the face path cannot run there, and the page says so instead of hanging.
async function storageUsable() {
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
}

if (!(await storageUsable())) {
  status("unavailable", "storage");
  throw new Error("OwnFace: storage is blocked in this context; the face path is unavailable");
}

status("runtime");
const { PyWorker } = await import(manifest.pyscript);
const started = performance.now();
const worker = await PyWorker(abs(entry), {
  version: abs(manifest.pyodide),
  config: {
    packages: ["numpy", ...wheels.map(abs)],
    js_modules: { worker: { [abs(manifest.ort)]: "ort" } },
    // "never": no IndexedDB lock cache (its blob: URL breaks the CSP). Measured 2026-11-26:
    // "passthrough" (Pyodide loads these itself while starting, no micropip) made Python
    // ready 1.1 s sooner cold and 0.3 s warm, but two browser tests then failed now and then
    // (timing); not adopted until that is understood.
    packages_cache: "never",
  },
});
window.ownfaceGlue.worker = worker;
window.ownfaceGlue.readyMs = performance.now() - started;
status("ready");
