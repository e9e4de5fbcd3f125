// Runs a Python script on MicroPython (the WebAssembly port) with otakit's client package on
// its path: node run.mjs <client package dir> <script> [data file...]
// Data files are copied to /data; the exit code is 1 when the script raises.
import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [packageDir, script, ...dataFiles] = process.argv.slice(2);
const mp = await loadMicroPython({
  heapsize: Number(process.env.MICROPYTHON_HEAP || 8 * 1024 * 1024),
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});
mp.FS.mkdir("/lib");
mp.FS.mkdir("/lib/otaclient");
mp.FS.mkdir("/data");
for (const name of readdirSync(packageDir)) {
  if (name.endsWith(".py")) {
    mp.FS.writeFile(`/lib/otaclient/${name}`, readFileSync(join(packageDir, name)));
  }
}
for (const file of dataFiles) {
  mp.FS.writeFile(`/data/${basename(file)}`, readFileSync(file));
}
try {
  mp.runPython("import sys\nsys.path.insert(0, '/lib')\n" + readFileSync(script, "utf8"));
  // A script may leave a `heap` run to drive step by step: garbage is collected between calls.
  const heap = mp.globals.get("heap");
  if (heap !== undefined) {
    heap.begin();
    while (heap.step()) {
      heap.sample();
    }
    heap.sample();
    heap.finish();
  }
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
