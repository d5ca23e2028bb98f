// The benchmark scenario, shared by Node and Chromium: `clients` virtual
// clients connect and sync, then the host broadcasts `messages` times; each
// broadcast frame crosses the virtual network to every client, which reads
// it as a whole line. Only the broadcasts are timed. Self-contained (no
// imports) so the browser bench can ship it into the page as source.
export function runBroadcastBench(Simulator, { clients = 1000, messages = 200, now = () => performance.now(), cpu = null } = {}) {
  const steps = [];
  for (let i = 0; i < clients; i++) {
    steps.push({ action: 'connect', client: `c${i}` });
    steps.push({ action: 'sync', client: `c${i}`, alias: `alias-${i}` });
  }
  const sim = new Simulator(JSON.stringify({ name: 'bench', trace: 'none', steps }));
  sim.runToEnd();
  for (let m = 0; m < messages; m++) {
    sim.act(JSON.stringify({ action: 'broadcast', message: { n: m, text: '大家来领物资了' } }));
  }
  const before = JSON.parse(sim.statsJson()).deliveries;
  const start = now();
  const cpuStart = cpu?.();
  sim.runToEnd();
  const seconds = (now() - start) / 1000;
  // CPU time (where the host offers it) is steadier than wall time on a
  // machine busy with other work.
  const cpuSeconds = cpu ? (cpu() - cpuStart) / 1000 : null;
  const deliveries = JSON.parse(sim.statsJson()).deliveries - before;
  sim.free();
  if (deliveries !== clients * messages) {
    throw new Error(`expected ${clients * messages} deliveries, got ${deliveries}`);
  }
  return {
    clients, messages, deliveries, seconds, perSecond: Math.round(deliveries / seconds),
    perCpuSecond: cpuSeconds ? Math.round(deliveries / cpuSeconds) : null,
  };
}
