// Reference descriptor from face-api.js's own FaceRecognitionNet (tfjs cpu backend, Node).
// Usage: node faceapi_reference.mjs <face-api package dir> <input.f32> <output.f32> <batch>
// Run with NODE_PATH pointing at a node_modules holding @tensorflow/tfjs@4.22.0 and
// @tensorflow/tfjs-backend-wasm@4.22.0 (face-api.node-wasm.js requires both).
// input.f32: float32 NHWC [batch,150,150,3] RGB 0..255; output.f32: float32 [batch,128].
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [pkg, inFile, outFile, batchArg] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const faceapi = require(path.resolve(pkg, 'dist', 'face-api.node-wasm.js'));
const tf = faceapi.tf;
await tf.setBackend('cpu');
await tf.ready();
const modelDir = path.join(pkg, 'model');
const manifest = JSON.parse(
  fs.readFileSync(path.join(modelDir, 'face_recognition_model-weights_manifest.json'), 'utf8'));
const bin = fs.readFileSync(path.join(modelDir, manifest[0].paths[0]));
const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
const weightMap = tf.io.decodeWeights(buffer, manifest[0].weights);
const net = new faceapi.FaceRecognitionNet();
net.loadFromWeightMap(weightMap);
const batch = Number(batchArg);
const raw = fs.readFileSync(inFile);
const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const out = new Float32Array(batch * 128);
for (let i = 0; i < batch; i += 1) {
  const img = tf.tensor3d(data.subarray(i * 67500, (i + 1) * 67500), [150, 150, 3], 'float32');
  const desc = await net.computeFaceDescriptor(img);
  out.set(desc, i * 128);
  img.dispose();
}
fs.writeFileSync(outFile, Buffer.from(out.buffer));
console.log(`backend=${tf.getBackend()} tfjs=${tf.version_core} batch=${batch}`);
