// The load generator of the Socket.IO peer (server.js): the three cluster
// scenarios of tcphub-bench, with socket.io-client, printing a report of
// the same shape as `tcphub-bench --json` so tests/bench/record.py and
// tests/bench/cluster read it unchanged.
//
//   node bench.js --nodes URL[,URL...] [--label L] [--json]
//                 [--redis HOST:PORT] [--cluster-pids PID,...] SCENARIO [options]
//     fanout  --subs N --payload B --duration S [--window 512] [--batch 32]
//     pairs   --pairs P --payload B --duration S [--window 256] [--batch 16]
//     latency --subs N --rate R --payload B --duration S [--warmup 1]
//
// Placement is tcphub-bench's with --cluster: fan-out's publisher on the
// first node and subscribers round-robin on all; pair p's ends on nodes p
// and p + 1; latency's publisher on the first node and subscribers on the
// others (one node given: both ends on it, the local baseline).
//
// This is a different program from tcphub-bench (Socket.IO is not raw
// TCP: it needs its own client), but it does the same work per message:
// the same payload size, the same counts, the same window of messages in
// flight to the slowest receiver, the same stall rule (10 s without a
// delivery ends the run and counts what is missing as lost), latency from
// each message's intended send time as wrk2 does. It is one Node thread:
// its own CPU per delivery is reported, to show when it is what limits.
"use strict";

const fs = require("fs");
const { io } = require("socket.io-client");

const STALL_MS = 10000;
const JOIN_CONCURRENCY = 64;
const STAMP_DIGITS = 20;

function parseArgs(argv) {
  const opts = { nodes: ["http://127.0.0.1:3000"], label: "socketio", json: false };
  const params = {};
  let scenario = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") opts.json = true;
    else if (a === "--nodes") opts.nodes = argv[++i].split(",").map(toUrl);
    else if (a === "--label") opts.label = argv[++i];
    else if (a === "--redis") opts.redis = argv[++i];
    else if (a === "--cluster-pids") opts.pids = argv[++i].split(",").map(Number);
    else if (a.startsWith("--")) params[a.slice(2)] = Number(argv[++i]);
    else if (!scenario) scenario = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!["fanout", "pairs", "latency"].includes(scenario)) {
    throw new Error("scenario: fanout, pairs or latency");
  }
  for (const [k, v] of Object.entries(params)) {
    if (!Number.isFinite(v)) throw new Error(`--${k} needs a number`);
  }
  return { opts, scenario, params };
}

// "127.0.0.1:3000" or a URL.
function toUrl(s) {
  return s.includes("://") ? s : `http://${s}`;
}

// One client, connected: named `name` in the handshake, on `url`.
function connect(url, name) {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ["websocket"],
      // One connection per client: socket.io-client would otherwise share
      // one connection among all clients of a URL.
      forceNew: true,
      reconnection: false,
      auth: { name },
    });
    const timer = setTimeout(() => reject(new Error(`joining ${url} as ${name} timed out`)), 30000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot connect to ${url} as ${name}: ${e.message}`));
    });
  });
}

// Connects `count` clients, at most JOIN_CONCURRENCY at once; client i is
// `naming(i)` on `place(i)`.
async function joinAll(count, naming, place) {
  const out = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      out[i] = await connect(place(i), naming(i));
    }
  }
  await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, count) }, worker));
  return out;
}

// The meters of a timed phase, as tcphub-bench's: the CPU time of the
// cluster's nodes (--cluster-pids) and Redis's INFO (--redis), read when
// the clock starts and when it stops, so joins and departures are not
// counted against the messages.
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

async function redisInfo(client) {
  const text = await client.info("all");
  const info = { calls: {} };
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(":");
    if (at < 0) continue;
    const key = line.slice(0, at);
    const value = line.slice(at + 1);
    if (key.startsWith("cmdstat_")) {
      info.calls[key.slice(8)] = Number(/calls=(\d+)/.exec(value)[1]);
    } else info[key] = value;
  }
  return {
    commands: Number(info.total_commands_processed),
    netIn: Number(info.total_net_input_bytes),
    netOut: Number(info.total_net_output_bytes),
    cpu: Number(info.used_cpu_sys) + Number(info.used_cpu_user),
    calls: info.calls,
  };
}

class Meters {
  static async start(opts) {
    const m = new Meters();
    m.pids = opts.pids || [];
    m.cpuBefore = m.pids.reduce((a, p) => a + cpuSeconds(p), 0);
    if (opts.redis) {
      const { createClient } = require("redis");
      m.client = createClient({ url: `redis://${opts.redis}` });
      m.client.on("error", () => {});
      await m.client.connect();
      m.redisBefore = await redisInfo(m.client);
    }
    return m;
  }
  async stop() {
    this.cpuAfter = this.pids.reduce((a, p) => a + cpuSeconds(p), 0);
    if (this.client) {
      this.redisAfter = await redisInfo(this.client);
      await this.client.quit();
    }
  }
  // The same figures, with the same names, as tcphub-bench's.
  add(metrics, published, delivered) {
    const d = Math.max(1, delivered);
    const m = Math.max(1, published);
    if (this.pids.length) {
      const used = this.cpuAfter - this.cpuBefore;
      metrics.hub_cpu = [used, "s"];
      metrics.hub_cpu_per_delivery = [(used * 1e9) / d, "ns"];
    }
    const [b, a] = [this.redisBefore, this.redisAfter];
    if (!a || !b) return;
    // The first reading's own INFO is counted by the second.
    const figures = [
      ["redis_commands", a.commands - b.commands - 1, "cmd"],
      ["redis_in_bytes", a.netIn - b.netIn, "B"],
      ["redis_out_bytes", a.netOut - b.netOut, "B"],
      ["redis_cpu", (a.cpu - b.cpu) * 1e9, "ns"],
    ];
    for (const [name, total, unit] of figures) {
      metrics[`${name}_per_delivery`] = [total / d, unit];
      metrics[`${name}_per_message`] = [total / m, unit];
    }
    metrics.redis_cpu = [a.cpu - b.cpu, "s"];
    for (const [cmd, calls] of Object.entries(a.calls)) {
      const n = calls - (b.calls[cmd] || 0) - (cmd === "info" ? 1 : 0);
      if (n > 0) metrics[`redis_calls_${cmd}`] = [n, "cmd"];
    }
  }
}

function filler(len) {
  return "x".repeat(len);
}

// Counters of what each receiver got, and a sender waiting until every one
// of a set of receivers has at least some count, in O(1) per delivery.
class Receivers {
  constructor(n) {
    this.counts = new Array(n).fill(0);
    this.target = 0;
    this.reached = 0;
    this.waiter = null;
    this.lastProgress = Date.now();
    this.failure = null;
  }
  got(i) {
    const c = ++this.counts[i];
    this.lastProgress = Date.now();
    if (this.waiter && c === this.target && ++this.reached === this.counts.length) this.wake();
  }
  fail(e) {
    this.failure = this.failure || e;
    if (this.waiter) this.wake();
  }
  wake() {
    const w = this.waiter;
    this.waiter = null;
    w();
  }
  total() {
    return this.counts.reduce((a, b) => a + b, 0);
  }
  // Resolves when every receiver has `atLeast`; rejects after STALL_MS
  // without any delivery. Always yields to the event loop once, so a
  // sender that is never held back still lets the sockets be read.
  async waitFor(atLeast) {
    await new Promise(setImmediate);
    for (;;) {
      if (this.failure) throw this.failure;
      this.target = atLeast;
      this.reached = this.counts.filter((c) => c >= atLeast).length;
      if (this.reached === this.counts.length) return;
      await new Promise((resolve) => {
        this.waiter = resolve;
        const check = () => {
          if (this.waiter !== resolve) return;
          if (Date.now() - this.lastProgress >= STALL_MS) this.wake();
          else setTimeout(check, 500);
        };
        setTimeout(check, 500);
      });
      this.waiter = null;
      if (this.failure) throw this.failure;
      if (Date.now() - this.lastProgress >= STALL_MS) {
        const slowest = Math.min(...this.counts);
        throw new Error(
          `stalled: the slowest receiver has ${slowest} of ${atLeast} messages after ${STALL_MS / 1000} s without progress`,
        );
      }
    }
  }
}

function report(scenario, opts, params, metrics, failures) {
  const r = {
    scenario,
    hub: opts.label,
    proto: "socketio",
    server: opts.nodes.join(","),
    params: { nodes: opts.nodes.length, ...params },
    metrics: Object.entries(metrics).map(([name, [value, unit]]) => ({ name, value, unit })),
  };
  if (failures.length) r.failures = failures;
  return r;
}

// deliveries_per_s and the rest, as tcphub-bench's driver reports them.
function deliveryMetrics(published, expected, delivered, payload, elapsedS, cpuStart) {
  const cpu = process.cpuUsage(cpuStart);
  const cpuNs = (cpu.user + cpu.system) * 1000;
  return {
    deliveries_per_s: [delivered / elapsedS, "msg/s"],
    published_per_s: [published / elapsedS, "msg/s"],
    payload_mb_per_s: [(delivered * payload) / elapsedS / 1e6, "MB/s"],
    published: [published, "msg"],
    delivered: [delivered, "msg"],
    lost: [Math.max(0, expected - delivered), "msg"],
    elapsed: [elapsedS, "s"],
    generator_cpu_per_delivery: [cpuNs / Math.max(1, delivered), "ns"],
  };
}

async function fanout(opts, p) {
  const subs = p.subs ?? 100;
  const payload = p.payload ?? 64;
  const duration = p.duration ?? 5;
  const window = p.window ?? 512;
  const batch = Math.max(1, Math.min(p.batch ?? 32, window));
  const nodes = opts.nodes;
  const clients = await joinAll(subs, (i) => `sub-${i}`, (i) => nodes[i % nodes.length]);
  const publisher = await connect(nodes[0], "pub");
  const receivers = new Receivers(subs);
  clients.forEach((c, i) => {
    c.on("info", () => receivers.got(i));
    c.on("disconnect", (why) => receivers.fail(new Error(`the hub closed a subscriber: ${why}`)));
  });
  const message = { to: "*", message: filler(payload) };
  const failures = [];
  const meters = await Meters.start(opts);
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  let sent = 0;
  try {
    while (elapsed() < duration) {
      await receivers.waitFor(Math.max(0, sent + batch - window));
      for (let k = 0; k < batch; k++) publisher.emit("info", message);
      sent += batch;
    }
    await receivers.waitFor(sent);
  } catch (e) {
    failures.push(e.message);
  }
  const secs = elapsed();
  await meters.stop();
  const metrics = deliveryMetrics(sent, sent * subs, receivers.total(), payload, secs, cpuStart);
  meters.add(metrics, sent, receivers.total());
  for (const c of [...clients, publisher]) c.disconnect();
  return report("fanout", opts, { subs, payload, window, batch, duration }, metrics, failures);
}

async function pairs(opts, p) {
  const count = (p.pairs ?? 50) * 2;
  const payload = p.payload ?? 64;
  const duration = p.duration ?? 5;
  const window = p.window ?? 256;
  const batch = Math.max(1, Math.min(p.batch ?? 16, window));
  const nodes = opts.nodes;
  const name = (i) => `pair-${Math.floor(i / 2)}-${i % 2 === 0 ? "a" : "b"}`;
  // Pair p's ends on nodes p and p + 1, as tcphub-bench places them.
  const clients = await joinAll(count, name, (i) => nodes[(Math.floor(i / 2) + (i % 2)) % nodes.length]);
  // What client i receives is what its partner (i ^ 1) waits for.
  const inbox = clients.map(() => new Receivers(1));
  clients.forEach((c, i) => {
    c.on("info", () => inbox[i].got(0));
    c.on("disconnect", (why) => inbox[i].fail(new Error(`the hub closed a client: ${why}`)));
  });
  const failures = [];
  const meters = await Meters.start(opts);
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  const sent = new Array(count).fill(0);
  await Promise.all(
    clients.map(async (c, i) => {
      const partner = inbox[i ^ 1];
      const message = { to: name(i ^ 1), message: filler(payload) };
      try {
        while (elapsed() < duration) {
          await partner.waitFor(Math.max(0, sent[i] + batch - window));
          for (let k = 0; k < batch; k++) c.emit("info", message);
          sent[i] += batch;
        }
        await partner.waitFor(sent[i]);
      } catch (e) {
        if (!failures.includes(e.message)) failures.push(e.message);
      }
    }),
  );
  const secs = elapsed();
  await meters.stop();
  const published = sent.reduce((a, b) => a + b, 0);
  const delivered = inbox.reduce((a, r) => a + r.total(), 0);
  const metrics = deliveryMetrics(published, published, delivered, payload, secs, cpuStart);
  meters.add(metrics, published, delivered);
  for (const c of clients) c.disconnect();
  return report("pairs", opts, { pairs: count / 2, payload, window, batch, duration }, metrics, failures);
}

function percentile(sorted, q) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function latency(opts, p) {
  const subs = p.subs ?? 10;
  const rate = p.rate ?? 1000;
  const payload = p.payload ?? 64;
  const duration = p.duration ?? 5;
  const warmup = p.warmup ?? 1;
  if (payload < STAMP_DIGITS) throw new Error(`--payload must be at least ${STAMP_DIGITS} bytes`);
  const nodes = opts.nodes;
  const others = nodes.length > 1 ? nodes.slice(1) : nodes;
  const clients = await joinAll(subs, (i) => `sub-${i}`, (i) => others[i % others.length]);
  const publisher = await connect(nodes[0], "pub");

  // Before the schedule's epoch: connecting to Redis must not make the
  // first messages late.
  const meters = await Meters.start(opts);
  const intervalNs = 1e9 / rate;
  const warmupCount = Math.round(warmup * rate);
  const total = warmupCount + Math.round(duration * rate);
  const FIRST_NS = 20e6;
  const epoch = process.hrtime.bigint();
  const nowNs = () => Number(process.hrtime.bigint() - epoch);
  const intended = (k) => FIRST_NS + Math.floor(k * intervalNs);
  const measuredFrom = intended(warmupCount);
  const samples = [];
  let received = 0;
  let bad = 0;
  let lastDelivery = Date.now();
  clients.forEach((c) => {
    c.on("info", (m) => {
      const now = nowNs();
      received++;
      lastDelivery = Date.now();
      const stamp = Number(String(m.message).slice(0, STAMP_DIGITS));
      if (!Number.isFinite(stamp)) bad++;
      else if (stamp >= measuredFrom) samples.push(Math.max(1, now - stamp));
    });
  });
  const rest = filler(payload - STAMP_DIGITS);
  const cpuStart = process.cpuUsage();
  let worstLag = 0;
  let k = 0;
  // Every message at its due time, those due at once together; the timer's
  // granularity (about a millisecond) is why the rate should stay in the
  // thousands, where tcphub-bench's publisher thread sleeps in the OS.
  await new Promise((resolve) => {
    const tick = () => {
      const now = nowNs();
      if (k < total && intended(k) <= now) worstLag = Math.max(worstLag, now - intended(k));
      while (k < total && intended(k) <= now) {
        const stamp = String(intended(k)).padStart(STAMP_DIGITS, "0");
        publisher.emit("info", { to: "*", message: stamp + rest });
        k++;
      }
      if (k >= total) return resolve();
      setTimeout(tick, Math.max(0, (intended(k) - nowNs()) / 1e6));
    };
    tick();
  });
  const expected = total * subs;
  // Whatever has not arrived STALL_MS after the last delivery is lost.
  while (received < expected && Date.now() - lastDelivery < STALL_MS) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const cpu = process.cpuUsage(cpuStart);
  await meters.stop();
  samples.sort((a, b) => a - b);
  const us = (ns) => ns / 1000;
  const failures = bad ? [`${bad} messages without a send time`] : [];
  const metrics = {
    p50: [us(percentile(samples, 0.5)), "us"],
    p90: [us(percentile(samples, 0.9)), "us"],
    p99: [us(percentile(samples, 0.99)), "us"],
    p99_9: [us(percentile(samples, 0.999)), "us"],
    max: [us(samples.length ? samples[samples.length - 1] : 0), "us"],
    mean: [us(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)), "us"],
    samples: [samples.length, "msg"],
    lost: [Math.max(0, expected - received), "msg"],
    publisher_worst_lag: [us(worstLag), "us"],
    generator_cpu_per_delivery: [((cpu.user + cpu.system) * 1000) / Math.max(1, received), "ns"],
  };
  meters.add(metrics, total, received);
  for (const c of [...clients, publisher]) c.disconnect();
  return report("latency", opts, { subs, rate, payload, duration, warmup }, metrics, failures);
}

async function main() {
  const { opts, scenario, params } = parseArgs(process.argv.slice(2));
  const run = { fanout, pairs, latency }[scenario];
  const r = await run(opts, params);
  if (opts.json) {
    console.log(JSON.stringify(r));
  } else {
    console.log(`${r.scenario} against ${r.hub} (socketio, ${r.server}): ${JSON.stringify(r.params)}`);
    for (const m of r.metrics) console.log(`  ${m.name.padEnd(28)} ${m.value.toFixed(2).padStart(16)}  ${m.unit}`);
    for (const f of r.failures || []) console.log(`  FAILED: ${f}`);
  }
  process.exit(r.failures ? 1 : 0);
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
