// Simulated deliveries per second in Node, and the .wasm size.
// Run after wasm/build.sh: node wasm/bench/node.mjs
import { statSync } from 'node:fs';
import path from 'node:path';
import { Simulator, wasmDir } from '../tests/node/load.mjs';
import { runBroadcastBench } from './broadcast.mjs';

runBroadcastBench(Simulator, { clients: 1000, messages: 20 }); // warm-up
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const runs = [1, 2, 3].map(() => runBroadcastBench(Simulator, { clients: 1000, messages: 300, cpu }));
const best = runs.reduce((a, b) => (a.perSecond > b.perSecond ? a : b));
const fmt = (n) => n.toLocaleString('en-US');
console.log(`node ${process.version}: 1,000-client broadcast, ${fmt(best.deliveries)} deliveries in ` +
  `${best.seconds.toFixed(3)} s = ${fmt(best.perSecond)} simulated deliveries/s ` +
  `(runs: ${runs.map((r) => fmt(r.perSecond)).join(', ')}); per CPU second: ` +
  `${fmt(Math.max(...runs.map((r) => r.perCpuSecond)))}`);
for (const dir of ['www/pkg', 'pkg']) {
  const size = statSync(path.join(wasmDir, dir, 'tcphub_wasm_bg.wasm')).size;
  console.log(`wasm/${dir}/tcphub_wasm_bg.wasm: ${fmt(size)} bytes (${(size / 1024).toFixed(1)} KiB)`);
}
