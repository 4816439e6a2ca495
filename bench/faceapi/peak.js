// onnxruntime-web timing glue for bench/limits.py: the same onnxruntime-web build OwnFace
// serves (paths from the app's asset manifest), on this page's main thread, with the thread
// count from ?threads=N (OwnFace's worker uses 1). window.peakBench.time(spec) creates (once)
// a session for spec.model (a URL on this origin), feeds random float32 inputs of the given
// shapes, and returns the wall time of each run after spec.warmup untimed runs.
const config = JSON.parse(document.getElementById("bench-config").textContent);
const threads = Number(new URLSearchParams(location.search).get("threads") || "1");
const root = document.documentElement;

const ort = await import(config.ort);
ort.env.wasm.wasmPaths = new URL(config.ort_dir, location.href).href;
ort.env.wasm.numThreads = threads;
ort.env.wasm.proxy = false;
const sessions = new Map();

async function session(url) {
  if (!sessions.has(url)) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    sessions.set(url, await ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"], graphOptimizationLevel: "all" }));
  }
  return sessions.get(url);
}

function feeds(inputs) {
  const out = {};
  for (const { name, shape } of inputs) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i += 1) data[i] = Math.random() * 2 - 1;
    out[name] = new ort.Tensor("float32", data, shape);
  }
  return out;
}

async function time(spec) {
  const s = await session(spec.model);
  const feed = feeds(spec.inputs);
  for (let i = 0; i < (spec.warmup ?? 2); i += 1) await s.run(feed);
  const ms = [];
  for (let i = 0; i < spec.runs; i += 1) {
    const t0 = performance.now();
    const out = await s.run(feed);
    ms.push(performance.now() - t0);
    for (const t of Object.values(out)) t.dispose?.();
  }
  for (const t of Object.values(feed)) t.dispose?.();
  return { ms, threads: ort.env.wasm.numThreads, version: ort.env.versions.web,
    cross_origin_isolated: self.crossOriginIsolated };
}

window.peakBench = { time };
root.dataset.ready = "1";
document.getElementById("state").textContent = `ready: onnxruntime-web ${ort.env.versions.web}, ${threads} thread(s)`;
