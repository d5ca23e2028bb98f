// Simulated deliveries per second in headless Chromium (the web build the
// page loads). Run after wasm/build.sh: node wasm/bench/browser.mjs
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/browser/static-server.mjs';
import { launch } from '../tests/browser/chromium.mjs';
import { runBroadcastBench } from './broadcast.mjs';

const wasmDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const server = await serve(path.join(wasmDir, 'www'));
const context = await launch();
try {
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => window.tcphub?.Simulator);
  const version = await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0]);
  const runs = await page.evaluate(async (source) => {
    const bench = new Function(`return (${source})`)();
    const { Simulator } = window.tcphub;
    bench(Simulator, { clients: 1000, messages: 20 }); // warm-up
    return [1, 2, 3].map(() => bench(Simulator, { clients: 1000, messages: 300 }));
  }, runBroadcastBench.toString());
  const best = runs.reduce((a, b) => (a.perSecond > b.perSecond ? a : b));
  const fmt = (n) => n.toLocaleString('en-US');
  console.log(`chromium ${version}: 1,000-client broadcast, ${fmt(best.deliveries)} deliveries in ` +
    `${best.seconds.toFixed(3)} s = ${fmt(best.perSecond)} simulated deliveries/s ` +
    `(runs: ${runs.map((r) => fmt(r.perSecond)).join(', ')})`);
} finally {
  await context.close();
  await server.close();
}
