// Loads the `--target nodejs` build (wasm/pkg) that wasm/build.sh makes.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const wasmDir = path.resolve(here, '../..');
const pkg = path.join(wasmDir, 'pkg', 'tcphub_wasm.js');
if (!existsSync(pkg)) {
  throw new Error(`${pkg} is missing: run wasm/build.sh first`);
}
export const { Simulator } = createRequire(import.meta.url)(pkg);
export const goldenDir = path.join(wasmDir, 'tests', 'golden');

/** What each client read, in order: client name -> lines. */
export function deliveries(trace) {
  const out = {};
  for (const e of trace) {
    if (e.kind === 'deliver') (out[e.client] ??= []).push(JSON.stringify(e.line));
  }
  return out;
}

/** Runs a preset (optionally changed) to the end and returns the simulator. */
export function runPreset(name, change = (s) => s) {
  const scenario = change(JSON.parse(Simulator.presetJson(name)));
  const sim = new Simulator(JSON.stringify(scenario));
  sim.runToEnd();
  return sim;
}
