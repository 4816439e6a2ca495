// Setup-time glue (not served): run one function of server/bytecode.py inside Pyodide, under
// Node.js. Node is on the machine anyway (npm fetches the pinned packages), and only Pyodide's
// own CPython writes bytecode its runtime accepts. Usage:
//   node pyodide_run.mjs <folder with pyodide.mjs> <job.json>
// The job names the packages to load, the host files to copy into Pyodide's file system, the
// Python call to make, and the files to copy back out.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [folder, jobFile] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobFile, "utf8"));
const { loadPyodide } = await import(pathToFileURL(`${folder}/pyodide.mjs`).href);
const pyodide = await loadPyodide({ indexURL: `${folder}/`, stdout: console.error });
await pyodide.loadPackage(job.packages, { messageCallback: () => {} });
const folderOf = (path) => path.slice(0, path.lastIndexOf("/"));
for (const path of [...Object.keys(job.inputs), ...Object.keys(job.outputs)]) {
  pyodide.FS.mkdirTree(folderOf(path));
}
for (const [inside, outside] of Object.entries(job.inputs)) {
  pyodide.FS.writeFile(inside, readFileSync(outside));
}
pyodide.runPython(job.run);
for (const [inside, outside] of Object.entries(job.outputs)) {
  writeFileSync(outside, pyodide.FS.readFile(inside));
}
