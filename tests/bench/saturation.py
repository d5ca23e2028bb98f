#!/usr/bin/env python3
"""Where one tcphub node saturates: the hub task's busy share of a core
against the whole box's CPU, while tcphub-bench loads it.

    tests/bench/saturation.py [--reps 3] [--out DIR]

Builds nothing: run `cargo build --release -p tcphub-native -p tcphub-bench`
first (it uses target/release, or $CARGO_TARGET_DIR/release). Starts one
hub with --metrics on free loopback ports, then for each scenario and
repetition runs the generator and, meanwhile, samples every 0.25 s:

- tcphub_hub_task_busy_seconds_total (the hub task's working time),
- tcphub_frames_sent_total (deliveries, as the hub counts them),
- the hub process's CPU time (/proc/PID/stat), and per thread its time on
  a CPU and waiting for one (/proc/PID/task/TID/schedstat),
- the generator's CPU time, and the machine's busy and softirq time
  (/proc/stat); what is left is other users' work.

docs/native.md ("Using more than one core: a plan") shows what it found.

A scenario's figures are the medians over its loaded samples (those with
at least 80% of the run's highest delivery rate), so connecting and
draining do not dilute them. Prints a table and writes DIR/results.json.
Every run is bounded in time; the hub is stopped on exit.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

INTERVAL = 0.25
# The hub and the generator run at this niceness when root, as in
# tests/bench/run, so other work on a shared machine disturbs them less.
NICE = ["nice", "-n", "-10"] if os.geteuid() == 0 else []
TICKS = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (label, generator arguments); fixed-rate fan-out is the latency scenario.
SCENARIOS = [
    ("pairs P=50 64 B, unwindowed",
     ["pairs", "--pairs", "50", "--payload", "64", "--window", "0", "--messages", "60000"]),
    ("pairs P=50 64 B, window 256",
     ["pairs", "--pairs", "50", "--payload", "64", "--duration", "3"]),
    ("fan-out N=100 64 B, unwindowed",
     ["fanout", "--subs", "100", "--payload", "64", "--window", "0", "--messages", "250000"]),
    ("fan-out N=100 64 B, window 512",
     ["fanout", "--subs", "100", "--payload", "64", "--duration", "3"]),
] + [
    (f"fan-out N=100 64 B, {rate // 1000}k msg/s offered",
     ["latency", "--subs", "100", "--payload", "64", "--rate", str(rate),
      "--duration", "3", "--warmup", "1"])
    for rate in (10_000, 30_000, 50_000, 70_000)
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port}")


def scrape(addr):
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = lambda name: sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                             if re.match(rf"{name}(\{{| )", l))
    return total("tcphub_hub_task_busy_seconds_total"), total("tcphub_frames_sent_total")


def proc_ticks(path):
    with open(path) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # utime + stime


def threads(pid):
    """Per thread: nanoseconds on a CPU and waiting for one (schedstat)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run, wait, _ = (int(x) for x in f.read().split())
            out[tid] = (run, wait)
        except (OSError, ValueError):
            pass
    return out


def box_ticks():
    """The machine's busy and total CPU ticks, and those in softirq
    (loopback TCP is mostly processed there, charged to no process)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle, sum(fields[:8]), fields[6]


def sampler(addr, pid, gen_pid, stop, samples):
    while not stop.is_set():
        busy, sent = scrape(addr)
        try:
            gen = proc_ticks(f"/proc/{gen_pid}/stat")
        except OSError:  # the generator has exited
            break
        samples.append({
            "t": time.monotonic(), "busy": busy, "sent": sent,
            "hub": proc_ticks(f"/proc/{pid}/stat"), "threads": threads(pid),
            "gen": gen, "box": box_ticks(),
        })
        stop.wait(INTERVAL)


def loaded_figures(samples):
    """Per-interval rates; medians over the loaded intervals."""
    rows = []
    for a, b in zip(samples, samples[1:]):
        dt = b["t"] - a["t"]
        box_busy = b["box"][0] - a["box"][0]
        box_all = b["box"][1] - a["box"][1]
        softirq = b["box"][2] - a["box"][2]
        ran = {t: b["threads"][t][0] - a["threads"].get(t, (0, 0))[0] for t in b["threads"]}
        waited = sum(b["threads"][t][1] - a["threads"].get(t, (0, 0))[1] for t in b["threads"])
        rows.append({
            "hub_deliveries_per_s": (b["sent"] - a["sent"]) / dt,
            "hub_task_busy": (b["busy"] - a["busy"]) / dt,
            "hub_cores": (b["hub"] - a["hub"]) / TICKS / dt,
            # The scheduler's own count of the hub threads' time on a CPU:
            # unlike the ticks above, it includes the kernel work their
            # writes do inline (loopback delivery, in softirq).
            "hub_run_cores": sum(ran.values()) / 1e9 / dt,
            "busiest_thread": max(ran.values(), default=0) / 1e9 / dt,
            # Hub threads ready to run but kept off a CPU by other work.
            "hub_runqueue_wait": waited / 1e9 / dt,
            "gen_cores": (b["gen"] - a["gen"]) / TICKS / dt,
            "box_cores": os.cpu_count() * box_busy / box_all if box_all else 0.0,
            "softirq_cores": os.cpu_count() * softirq / box_all if box_all else 0.0,
        })
    if not rows:
        return {}
    peak = max(r["hub_deliveries_per_s"] for r in rows)
    loaded = [r for r in rows if r["hub_deliveries_per_s"] >= 0.8 * peak and peak > 0]
    for r in loaded:
        # Everything else on the machine (other users' work, the kernel's
        # threads), and the hub task's wall time per delivery.
        r["other_cores"] = max(0.0, r["box_cores"] - r["hub_cores"] - r["gen_cores"]
                               - r["softirq_cores"])
        r["hub_task_ns_per_delivery"] = 1e9 * r["hub_task_busy"] / r["hub_deliveries_per_s"]
    if not loaded:
        return {}
    return {k: statistics.median(r[k] for r in loaded) for k in loaded[0]} | {"intervals": len(loaded)}


def bench_figures(line):
    r = json.loads(line)
    m = {x["name"]: x["value"] for x in r.get("metrics", [])}
    names = ("deliveries_per_s", "hub_cpu_per_delivery", "generator_cpu_per_delivery", "p50", "p99", "lost")
    return {k: m.get(k) for k in names} | {
        "failures": r.get("failures", [])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "saturation"))
    ap.add_argument("--only", help="run only scenarios whose label contains this")
    args = ap.parse_args()
    release = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")
    hub_bin, gen_bin = os.path.join(release, "tcphub"), os.path.join(release, "tcphub-bench")
    os.makedirs(args.out, exist_ok=True)
    port, mport = free_port(), free_port()
    log = open(os.path.join(args.out, "hub.log"), "w")
    hub = subprocess.Popen(NICE + [hub_bin, "serve", "--listen", f"127.0.0.1:{port}",
                            "--metrics", f"127.0.0.1:{mport}"],
                           env=os.environ | {"RUST_LOG": "warn"}, stdout=log, stderr=log)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = []
    try:
        wait_listening(port)
        wait_listening(mport)
        scenarios = [s for s in SCENARIOS if not args.only or args.only in s[0]]
        for rep in range(1, args.reps + 1):
            for label, gen_args in scenarios:
                load = open("/proc/loadavg").read().split()[:3]
                samples, stop = [], threading.Event()
                cmd = NICE + [gen_bin, "--server", f"127.0.0.1:{port}", "--pid", str(hub.pid),
                       "--json", "--no-progress"] + gen_args
                gen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                thread = threading.Thread(target=sampler,
                                          args=(f"127.0.0.1:{mport}", hub.pid, gen.pid, stop, samples))
                thread.start()
                try:
                    out, err = gen.communicate(timeout=120)
                except subprocess.TimeoutExpired:
                    gen.kill()
                    out, err = gen.communicate()
                finally:
                    stop.set()
                    thread.join()
                if err.strip():
                    print(err.strip()[-2000:], file=sys.stderr)
                line = out.strip().splitlines()[-1] if out.strip() else "{}"
                row = {"scenario": label, "rep": rep, "load_before": load, "exit": gen.returncode}
                row |= bench_figures(line) | loaded_figures(samples)
                results.append(row)
                print(json.dumps(row), flush=True)
                time.sleep(1)  # let the hub's queues and the sockets' TIME_WAIT settle
    finally:
        hub.terminate()
        try:
            hub.wait(10)
        except subprocess.TimeoutExpired:
            hub.kill()
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    table(results)


def table(results):
    cols = [("deliveries_per_s", "deliveries/s", "{:,.0f}"),
            ("hub_deliveries_per_s", "deliveries/s while loaded", "{:,.0f}"),
            ("hub_cpu_per_delivery", "hub CPU/delivery ns", "{:.0f}"),
            ("hub_task_busy", "hub task busy", "{:.0%}"),
            ("hub_cores", "hub process cores", "{:.2f}"),
            ("hub_run_cores", "hub threads on a CPU", "{:.2f}"),
            ("busiest_thread", "busiest hub thread", "{:.2f}"),
            ("hub_runqueue_wait", "hub threads waiting for a CPU", "{:.2f}"),
            ("gen_cores", "generator cores", "{:.2f}"),
            ("softirq_cores", "softirq cores", "{:.2f}"),
            ("other_cores", "others' cores", "{:.2f}"),
            ("box_cores", "box busy cores", "{:.2f}"),
            ("hub_task_ns_per_delivery", "hub task ns/delivery", "{:.0f}"),
            ("p99", "p99 us", "{:,.0f}")]
    print("| scenario | " + " | ".join(c[1] for c in cols) + " | load avg (1 min) |")
    print("| --- |" + " ---: |" * (len(cols) + 1))
    for label in dict.fromkeys(r["scenario"] for r in results):
        rows = [r for r in results if r["scenario"] == label]
        cells = []
        for key, _, fmt in cols:
            vals = [r[key] for r in rows if r.get(key) is not None]
            cells.append(fmt.format(statistics.median(vals)) if vals else "")
        loads = sorted(r["load_before"][0] for r in rows)
        failed = sum(1 for r in rows if r["exit"] != 0)
        print(f"| {label}{f' ({failed} failed)' if failed else ''} | " + " | ".join(cells)
              + f" | {loads[0]}–{loads[-1]} |")


if __name__ == "__main__":
    main()
