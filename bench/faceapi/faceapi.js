// face-api.js benchmark glue (bench/ only; face-api is JavaScript, so this harness is too).
// Loads @vladmandic/face-api's ESM bundle (TF.js bundled inside) from the bench server, puts
// TF.js on its WASM backend with the self-hosted, hash-pinned wasm binaries, loads the three
// nets the face-verification pipeline needs, and exposes window.faceapiBench.run(spec):
// frames (raw RGBA bytes) -> single face, 68 landmarks, 128-D descriptor, timed per frame.
// Milestones are kept on <html> as data-*-ms (ms since navigation start), like OwnFace's pages.
const params = new URLSearchParams(location.search);
const VENDOR = "/_bench/vendor";
const MODELS = `${VENDOR}/face-api@1.7.15/model`;
const detector = params.get("detector") || "ssd"; // "ssd" (face-api's default) or "tiny"
// TF.js wasm threads. 1 (default): the single-threaded SIMD build, which is what a page that is
// not cross-origin isolated gets, and the only one the app's strict CSP allows (the threaded
// build starts its pthreads with importScripts(blob:), which needs script-src blob:). N > 1:
// the threaded SIMD build with N threads; serve the page from /_bench/relaxed/ for that.
const threads = Number(params.get("threads") || "1");

const root = document.documentElement;
const mark = (name) => root.setAttribute(`data-${name}-ms`, performance.now().toFixed(1));
const state = document.getElementById("state");

async function load() {
  const faceapi = await import(`${VENDOR}/face-api@1.7.15/dist/face-api.esm.js`);
  const tf = faceapi.tf;
  mark("script");
  tf.setWasmPaths(`${VENDOR}/tfjs-backend-wasm@4.22.0/`);
  if (threads > 1) tf.setThreadsCount(threads);
  else tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  if (!(await tf.setBackend("wasm"))) throw new Error("TF.js could not start its wasm backend");
  await tf.ready();
  mark("backend");
  const detectorNet = detector === "tiny" ? faceapi.nets.tinyFaceDetector : faceapi.nets.ssdMobilenetv1;
  await Promise.all([detectorNet.loadFromUri(MODELS), faceapi.nets.faceLandmark68Net.loadFromUri(MODELS),
    faceapi.nets.faceRecognitionNet.loadFromUri(MODELS)]);
  mark("models");
  const options = detector === "tiny"
    ? new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 })
    : new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const runtime = {
    faceapi: faceapi.version, tfjs: tf.version_core, backend: tf.getBackend(), detector,
    threads: threads > 1 ? tf.getThreadsCount() : 1,
    cross_origin_isolated: self.crossOriginIsolated,
  };

  async function frame(url, width, height) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new ImageData(new Uint8ClampedArray(await response.arrayBuffer()), width, height);
  }

  // one frame, timed from the RGBA pixels in memory to the descriptor
  async function describe(image) {
    const t0 = performance.now();
    const input = tf.browser.fromPixels(image);
    let result;
    try {
      result = await faceapi.detectSingleFace(input, options).withFaceLandmarks().withFaceDescriptor();
    } finally {
      input.dispose();
    }
    return { ms: performance.now() - t0, result };
  }

  async function run(spec) {
    const out = [];
    for (const url of spec.frames) {
      const image = await frame(url, spec.width, spec.height);
      const times = [];
      let result;
      for (let r = 0; r < (spec.repeats || 1); r += 1) {
        ({ ms: times[r], result } = await describe(image));
      }
      const row = { ms: times };
      if (result) {
        const box = result.detection.box;
        row.box = [box.x, box.y, box.x + box.width, box.y + box.height];
        row.score = result.detection.score;
        row.descriptor = Array.from(result.descriptor);
      } else {
        row.reason = "no_face";
      }
      out.push(row);
    }
    return { results: out, runtime, tensors: tf.memory().numTensors };
  }

  window.faceapiBench = { run, runtime };
  root.dataset.ready = "1";
  state.textContent = `ready: face-api ${runtime.faceapi}, TF.js ${runtime.tfjs} ${runtime.backend}`;
}

load().catch((err) => {
  root.dataset.error = String(err && err.stack ? err.stack : err);
  state.textContent = `failed: ${err}`;
});
