#!/usr/bin/env python3
"""Turns the results of tests/bench/run into docs/benchmarks.md and SVG plots.

    report.py RESULTS.jsonl MACHINE.txt COMMANDS.txt OUT.md SVG_DIR

Standard library only: the plots are written as SVG by hand.
"""
import json
import math
import os
import re
import statistics
import sys
from collections import defaultdict

HUBS = ["tcphub", "nats", "node"]
NAMES = {"tcphub": "tcphub", "nats": "nats-server", "node": "Node.js peer",
         "sink-tcphub": "sink (tcphub protocol)", "sink-nats": "sink (NATS protocol)",
         "before": "before", "after": "after", "tcphub-room": "tcphub, to a room",
         "observe-off": "observe off", "observe-on": "observe on"}
COLOURS = {"tcphub": "#d62728", "nats": "#1f77b4", "node": "#2ca02c"}


def load(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


class Results:
    def __init__(self, runs):
        self.values = defaultdict(list)  # (scenario, hub, key, metric) -> [values]
        self.failures = []
        self.failed = defaultdict(int)  # (scenario, hub, key) -> failed runs with figures
        for r in runs:
            if r.get("failed"):
                self.failures.append(r)
            if not r.get("metrics"):
                continue
            scenario = self.scenario(r["scenario"], r["params"])
            key = self.key(scenario, r["params"])
            if r.get("failed"):
                self.failed[(scenario, r["hub"], key)] += 1
            for m in r["metrics"]:
                self.values[(scenario, r["hub"], key, m["name"])].append(m["value"])

    @staticmethod
    def scenario(scenario, params):
        """`fanout` and `pairs` run with `--window 0` are kept apart as
        `fanout-unwindowed` and `pairs-unwindowed`: the same settings, another mode."""
        if scenario in ("fanout", "pairs") and params.get("window") == 0:
            return scenario + "-unwindowed"
        return scenario

    @staticmethod
    def key(scenario, params):
        if scenario in ("fanout", "capacity", "fanout-unwindowed"):
            return (params["subs"], params["payload"])
        if scenario in ("pairs", "pairs-unwindowed"):
            # Older results have no 512 B pairs and may lack nothing else:
            # every pairs run records its payload.
            return (params["pairs"], params["payload"])
        if scenario == "idle":
            return (params["conns"],)
        if scenario == "burst":
            return (params["subs"], params["messages"], params["payload"])
        if scenario == "list-spam":
            return (params["sessions"], params["read"])
        return ()

    def get(self, scenario, hub, key, metric):
        return self.values.get((scenario, hub, key, metric), [])

    def median(self, *a):
        v = self.get(*a)
        return statistics.median(v) if v else None

    def keys(self, scenario, hub):
        """The settings a scenario ran with for a hub, in order of first appearance."""
        return list(dict.fromkeys(k for (s, h, k, m) in self.values if s == scenario and h == hub))


def num(x, digits=3):
    """A figure with thousands grouping (or a few significant digits when small)."""
    if x is None:
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def spread(res, *a):
    v = res.get(*a)
    if not v:
        return "failed"
    med = statistics.median(v)
    if len(v) == 1:
        return num(med)
    return f"{num(med)} ({num(min(v))}–{num(max(v))})"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}x"


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


# ------------------------------------------------------------------ SVG

def svg_chart(path, title, panels, y_label, y_log=True, x_log=False, width=760, height=380):
    """panels: list of (subtitle, x_ticks [(value,label)], series [(name, colour, [(x, med, lo, hi)])])."""
    n = len(panels)
    pw = (width - 40) / n
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width/2}" y="20" text-anchor="middle" font-size="15">{title}</text>']
    all_y = [p for _, _, series in panels for _, _, pts in series for pt in pts for p in pt[1:] if p]
    if not all_y:
        return
    lo_y, hi_y = min(all_y), max(all_y)
    if y_log:
        lo_y = 10 ** math.floor(math.log10(lo_y))
        hi_y = 10 ** math.ceil(math.log10(hi_y))
    else:
        lo_y = 0
        hi_y *= 1.1
    ty = lambda v: math.log10(v) if y_log else v
    top, bottom = 50, height - 70
    for i, (subtitle, ticks, series) in enumerate(panels):
        left = 40 + i * pw + 45
        right = 40 + (i + 1) * pw - 15
        xs = [t[0] for t in ticks]
        tx = (lambda v: math.log10(v)) if x_log else (lambda v: v)
        x0, x1 = tx(min(xs)), tx(max(xs))
        px = lambda v: left + (tx(v) - x0) / ((x1 - x0) or 1) * (right - left)
        py = lambda v: bottom - (ty(v) - ty(lo_y)) / ((ty(hi_y) - ty(lo_y)) or 1) * (bottom - top)
        out.append(f'<text x="{(left+right)/2}" y="{top-10}" text-anchor="middle">{subtitle}</text>')
        out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black"/>')
        out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="black"/>')
        # y grid: decades (log) or five steps (linear)
        if y_log:
            grid = [10 ** e for e in range(int(math.log10(lo_y)), int(math.log10(hi_y)) + 1)]
        else:
            grid = [hi_y * k / 5 for k in range(6)]
        for g in grid:
            y = py(g)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{left-4}" y="{y+4:.1f}" text-anchor="end" font-size="10">{short(g)}</text>')
        for v, label in ticks:
            x = px(v)
            out.append(f'<text x="{x:.1f}" y="{bottom+15}" text-anchor="middle">{label}</text>')
        for name, colour, pts in series:
            pts = [p for p in pts if p[1]]
            if not pts:
                continue
            d = " ".join(f"{px(x):.1f},{py(m):.1f}" for x, m, _, _ in pts)
            out.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for x, m, lo, hi in pts:
                out.append(f'<line x1="{px(x):.1f}" y1="{py(lo):.1f}" x2="{px(x):.1f}" y2="{py(hi):.1f}" stroke="{colour}"/>')
                out.append(f'<circle cx="{px(x):.1f}" cy="{py(m):.1f}" r="3" fill="{colour}"/>')
    out.append(f'<text x="14" y="{(top+bottom)/2}" transform="rotate(-90 14 {(top+bottom)/2})" '
               f'text-anchor="middle">{y_label}</text>')
    names = []
    for _, _, series in panels:
        for name, colour, _ in series:
            if (name, colour) not in names:
                names.append((name, colour))
    for k, (name, colour) in enumerate(names):
        x = 60 + k * 170
        out.append(f'<rect x="{x}" y="{height-30}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x+18}" y="{height-20}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def short(v):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v/div:g}{suffix}"
    return f"{v:g}"


def points(res, scenario, hub, keys, metric):
    pts = []
    for x, key in keys:
        v = res.get(scenario, hub, key, metric)
        if v:
            pts.append((x, statistics.median(v), min(v), max(v)))
    return pts


# ------------------------------------------------------------------ tcphub alone

def all_runs(res, scenario, hub, metric):
    """Every value of a metric over all settings of a scenario."""
    return [v for k in res.keys(scenario, hub) for v in res.get(scenario, hub, k, metric)]


def robustness_targets(res):
    """Issue 9's targets: (label, measured, met?)."""
    rows = []
    cut, lost = all_runs(res, "burst", "tcphub", "readers_cut"), all_runs(res, "burst", "tcphub", "lost")
    if cut:
        ok = max(cut) == 0 and max(lost or [0]) == 0
        rows.append(("burst, 100 readers: readers cut and deliveries lost = 0 in every run",
                     f"{num(max(cut))} cut, {num(max(lost or [0]))} lost (worst of {len(cut)})", ok))
    for key in res.keys("list-spam", "tcphub"):
        if key[1]:
            p99 = res.median("list-spam", "tcphub", key, "ping_spam_p99")
            if p99 is not None:
                rows.append((f"ping p99 while one client spams list, {num(key[0])} sessions ≤ 5 ms",
                             f"{num(p99 / 1000)} ms", p99 <= 5000))
    for p in (64, 512):
        b = res.median("fanout", "before", (100, p), "deliveries_per_s")
        a = res.median("fanout", "after", (100, p), "deliveries_per_s")
        if a and b:
            rows.append((f"fan-out N=100, {p} B: this tree / before (see Machine) ≥ 0.9",
                         fmt_ratio(a / b), a / b >= 0.9))
    return rows


def room_targets(res):
    """Issue 11: a room message costs each recipient about what a broadcast does."""
    rows = []
    for n in (100, 1000):
        b = res.median("fanout", "tcphub", (n, 64), "hub_cpu_per_delivery")
        r = res.median("fanout", "tcphub-room", (n, 64), "hub_cpu_per_delivery")
        if b and r:
            rows.append((f"fan-out N={n}, 64 B: hub CPU per delivery, room / broadcast ≤ 1.1",
                         fmt_ratio(r / b), r / b <= 1.1))
    return rows


def rooms_section(res, w):
    keys = [k for k in res.keys("fanout", "tcphub-room")
            if res.get("fanout", "tcphub", k, "deliveries_per_s")]
    if not keys:
        return
    w("## Rooms: fan-out to a room against a broadcast\n")
    w("The fan-out above, run by the same tcphub process right after each broadcast "
      "run, with every subscriber also a member of room `lobby` (joined before the "
      "clock starts) and the publisher, no member, sending `{\"type\":\"info\","
      "\"room\":\"lobby\",...}` instead of `to: \"*\"`. Each delivery carries "
      "`\"room\":\"lobby\"` too (15 bytes more). The hub encodes a room message "
      "once for all its members, as a broadcast; the CPU time per delivery is the "
      "per-recipient cost.\n")
    w("| N | payload | broadcast (deliveries/s) | room (deliveries/s) | room / broadcast | "
      "hub CPU / delivery, broadcast (ns) | room (ns) | room / broadcast |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in keys:
        med = lambda h, m: res.median("fanout", h, k, m)
        w(f"| {num(k[0])} | {k[1]} B | {spread(res, 'fanout', 'tcphub', k, 'deliveries_per_s')} | "
          f"{spread(res, 'fanout', 'tcphub-room', k, 'deliveries_per_s')} | "
          f"{fmt_ratio(ratio(med('tcphub-room', 'deliveries_per_s'), med('tcphub', 'deliveries_per_s')))} | "
          f"{spread(res, 'fanout', 'tcphub', k, 'hub_cpu_per_delivery')} | "
          f"{spread(res, 'fanout', 'tcphub-room', k, 'hub_cpu_per_delivery')} | "
          f"{fmt_ratio(ratio(med('tcphub-room', 'hub_cpu_per_delivery'), med('tcphub', 'hub_cpu_per_delivery')))} |")
    w("")


def observation_section(res, w):
    runs = [(f"fan-out N={k[0]}, {k[1]} B", "fanout", k) for k in res.keys("fanout", "observe-on")]
    runs += [(f"pairs P={k[0]}, {k[1]} B", "pairs", k) for k in res.keys("pairs", "observe-on")]
    if not runs:
        return
    w("## Observation: `tcphub serve --observe` against the same hub without it\n")
    w("Two fresh hubs started together, one with `--observe` (an event for the host "
      "program per relayed message, which `serve` prints as a line on stdout, here "
      "sent to /dev/null) and one without, measured in turn by the same generator. "
      "The CPU time is the whole process's, printing included. A broadcast is one "
      "event for N deliveries; a directed pair is one event per delivery, the most "
      "observation can cost.\n")
    w("| run | off (deliveries/s) | on (deliveries/s) | on / off | "
      "hub CPU / delivery, off (ns) | on (ns) | on / off |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, scen, k in runs:
        med = lambda h, m: res.median(scen, h, k, m)
        w(f"| {label} | {spread(res, scen, 'observe-off', k, 'deliveries_per_s')} | "
          f"{spread(res, scen, 'observe-on', k, 'deliveries_per_s')} | "
          f"{fmt_ratio(ratio(med('observe-on', 'deliveries_per_s'), med('observe-off', 'deliveries_per_s')))} | "
          f"{spread(res, scen, 'observe-off', k, 'hub_cpu_per_delivery')} | "
          f"{spread(res, scen, 'observe-on', k, 'hub_cpu_per_delivery')} | "
          f"{fmt_ratio(ratio(med('observe-on', 'hub_cpu_per_delivery'), med('observe-off', 'hub_cpu_per_delivery')))} |")
    w("\nEvents the observing hub dropped because `serve` printed them slower than "
      "they came (it warns at 1, 2, 4, ... dropped; the last count is under Machine) "
      "are lines a user never saw.\n")


# The unwindowed runs, as `nats bench` measures: (label, windowed scenario, key).
UNWINDOWED_RUNS = [(f"fan-out N={n}, {p} B", "fanout", (n, p)) for n in (100, 1000) for p in (64, 512)]
UNWINDOWED_RUNS += [(f"pairs P=50, {p} B", "pairs", (50, p)) for p in (64, 512)]
UNWINDOWED_HUBS = ["tcphub", "nats"]


def unwindowed_targets(res):
    """Issue 15's throughput targets, in the unwindowed mode."""
    rows = []
    for label, scen, key in UNWINDOWED_RUNS:
        goal = 1.5 if scen == "fanout" else 1.0
        u = scen + "-unwindowed"
        t = res.median(u, "tcphub", key, "deliveries_per_s")
        n = res.median(u, "nats", key, "deliveries_per_s")
        if t is None and n is None:
            continue
        r = ratio(t, n)
        clean = not res.failed[(u, "tcphub", key)]
        ok = None if r is None else (r >= goal and clean)
        rows.append((f"unwindowed {label}: tcphub / nats-server ≥ {goal}, nothing lost",
                     fmt_ratio(r), ok))
    return rows


def unwindowed_cpu_rows(res):
    return [(f"unwindowed {label}", scen + "-unwindowed", key) for label, scen, key in UNWINDOWED_RUNS
            if res.get(scen + "-unwindowed", "tcphub", key, "hub_cpu_per_delivery")]


def unwindowed_section(res, w):
    rows = [r for r in UNWINDOWED_RUNS
            if any(res.get(r[1] + "-unwindowed", h, r[2], "deliveries_per_s") for h in UNWINDOWED_HUBS)]
    if not rows:
        return
    w("## Windowed and unwindowed: what a `nats bench` user measures\n")
    w("The windowed runs above keep at most 512 messages (fan-out) or 256 per pair in "
      "flight, which paces every sender to its slowest receiver. `nats bench` does not: "
      "its publishers write as fast as the connection takes the bytes. The unwindowed "
      "mode (`tcphub-bench fanout|pairs --window 0`) does the same: each sender writes "
      "its messages (fan-out: a fixed count, the same number of deliveries at every N; "
      "pairs: every client bursts its count at its partner) without waiting, the "
      "receivers count what arrives, and the run waits at most `--drain` seconds "
      "(10) after the last write for the stragglers. A run in which the hub cut a "
      "reader (tcphub's `bye`, nats-server's slow consumer) or lost a delivery fails: "
      "its figures are still shown, and counted under *failed runs*. The rate is the "
      "deliveries over the time from the first write to the last delivery. A hub with "
      "flow control holds a fast sender back instead of cutting a reader, so there the "
      "two modes should agree.\n")
    reps = max(len(res.get(r[1] + "-unwindowed", h, r[2], "deliveries_per_s"))
               for r in rows for h in UNWINDOWED_HUBS)
    if reps > 1:
        w(f"Each unwindowed figure is the median of {reps} runs, tcphub's and nats-server's "
          "alternating: a pairs run on two cores, shared by hub and load generator, swings "
          "by a fifth from one run to the next.\n")
    w("| run | tcphub windowed | tcphub unwindowed | nats-server windowed | "
      "nats-server unwindowed | tcphub / nats, unwindowed | "
      "hub CPU / delivery unwindowed, tcphub (ns) | nats-server (ns) | failed runs, tcphub / nats |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, scen, key in rows:
        u = scen + "-unwindowed"
        med = lambda h, m: res.median(u, h, key, m)
        w(f"| {label} | {spread(res, scen, 'tcphub', key, 'deliveries_per_s')} | "
          f"{spread(res, u, 'tcphub', key, 'deliveries_per_s')} | "
          f"{spread(res, scen, 'nats', key, 'deliveries_per_s')} | "
          f"{spread(res, u, 'nats', key, 'deliveries_per_s')} | "
          f"{fmt_ratio(ratio(med('tcphub', 'deliveries_per_s'), med('nats', 'deliveries_per_s')))} | "
          f"{spread(res, u, 'tcphub', key, 'hub_cpu_per_delivery')} | "
          f"{spread(res, u, 'nats', key, 'hub_cpu_per_delivery')} | "
          f"{res.failed[(u, 'tcphub', key)]} / {res.failed[(u, 'nats', key)]} |")
    lost = sum(sum(v) for (s, h, k, m), v in res.values.items() if s.endswith("-unwindowed") and m == "lost")
    w(f"\nDeliveries lost across all unwindowed runs: {num(lost)}.\n")


def ms(res, scenario, hub, key, metric):
    """A spread of a microsecond figure, in milliseconds."""
    v = [x / 1000 for x in res.get(scenario, hub, key, metric)]
    if not v:
        return "n/a"
    med = statistics.median(v)
    return num(med) if len(v) == 1 else f"{num(med)} ({num(min(v))}–{num(max(v))})"


def burst_section(res, w):
    keys = res.keys("burst", "tcphub")
    if not keys:
        return
    w("## Burst: an unpaced broadcast to 100 readers\n")
    w("One publisher writes every message to `*` as fast as its socket takes them, "
      "with no window and no pacing, to subscribers that read as fast as they can. "
      "A hub that queues without limit grows by what the readers have not taken yet, "
      "and one with only a cap cuts them; tcphub stops reading the publisher while a "
      "reader's queue is past its high watermark (512 KiB), so the burst goes at the "
      "readers' pace, no reader is cut and every delivery arrives whole. The run fails "
      "if a reader gets a `bye` or `error` or loses its connection, if a delivery is "
      "missing, or if a stream ends in the middle of a frame. The hub's resident "
      "memory is read just before the burst, every 50 ms during it (the peak) and "
      "again a while after it (`settle`), with the subscribers still connected: "
      "whether it gives back what the burst made it allocate.\n")
    w("| readers | messages | readers cut | mid-frame | lost | deliveries / s | elapsed (s) | hub CPU / delivery (ns) |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in keys:
        cell = lambda m: spread(res, "burst", "tcphub", k, m)
        w(f"| {num(k[0])} | {num(k[1])} × {k[2]} B | {cell('readers_cut')} | {cell('mid_frame')} | "
          f"{cell('lost')} | {cell('deliveries_per_s')} | {cell('elapsed')} | {cell('hub_cpu_per_delivery')} |")
    w("\nResident memory of the hub (MiB):\n")
    w("| readers | before the burst | peak during it | after it (settle) |")
    w("| ---: | ---: | ---: | ---: |")
    for k in keys:
        cell = lambda m: spread(res, "burst", "tcphub", k, m)
        w(f"| {num(k[0])} | {cell('rss_before')} | {cell('rss_peak')} | {cell('rss_after')} |")
    w("")


def list_spam_section(res, w):
    keys = res.keys("list-spam", "tcphub")
    if not keys:
        return
    sessions = num(keys[0][0])
    w("## Ping latency while one client spams `list`\n")
    w(f"{sessions} idle synced sessions; one client pings every 10 ms and times each "
      "pong, first for 5 s alone (the baseline), then while another client writes "
      "`{\"type\":\"list\"}` requests as fast as the hub takes them, each answered with "
      "one page of at most 1,000 rows. In one run the spammer reads its replies as fast "
      "as it can, in the other it never reads them: then the hub should stop reading it "
      "and, once nothing could be written to it for the write deadline (10 s), cut it "
      "as a slow consumer. What the spam costs the other clients is the difference "
      "between the two phases. Round trips in milliseconds; a fresh hub for each run.\n")
    w("| spammer | phase | ping p50 | ping p99 | ping max | list replies / s | hub CPU (% of a core) | spammer cut after (s) |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in keys:
        mode = "reads its replies" if k[1] else "never reads"
        cell = lambda m: spread(res, "list-spam", "tcphub", k, m)
        cut = cell("spammer_cut_after") if res.get("list-spam", "tcphub", k, "spammer_cut_after") else "not cut"
        w(f"| {mode} | baseline | {ms(res, 'list-spam', 'tcphub', k, 'ping_base_p50')} | "
          f"{ms(res, 'list-spam', 'tcphub', k, 'ping_base_p99')} | {ms(res, 'list-spam', 'tcphub', k, 'ping_base_max')} | "
          f"– | {cell('hub_cpu_base')} | |")
        w(f"| {mode} | spam | {ms(res, 'list-spam', 'tcphub', k, 'ping_spam_p50')} | "
          f"{ms(res, 'list-spam', 'tcphub', k, 'ping_spam_p99')} | {ms(res, 'list-spam', 'tcphub', k, 'ping_spam_max')} | "
          f"{cell('list_answered_per_s')} | {cell('hub_cpu_spam')} | {cut} |")
    w("\nResident memory of the hub (MiB), and idle sessions disturbed (closed, or sent anything):\n")
    w("| spammer | before | peak | after (settle) | idle sessions disturbed |")
    w("| --- | ---: | ---: | ---: | ---: |")
    for k in keys:
        mode = "reads its replies" if k[1] else "never reads"
        cell = lambda m: spread(res, "list-spam", "tcphub", k, m)
        w(f"| {mode} | {cell('rss_before')} | {cell('rss_peak')} | {cell('rss_after')} | {cell('sessions_disturbed')} |")
    w("")


def before_after_section(res, w):
    rows = [p for p in (64, 512) if res.get("fanout", "before", (100, p), "deliveries_per_s")]
    if not rows:
        return
    w("## Fan-out N=100 before and after a change\n")
    w("The fan-out above, N=100, against an older build (`before`, named under Machine) "
      "and this tree's (`after`), one run of each in turn, both hubs started together "
      "and measured by this tree's generator. The CPU time per delivery moves far less "
      "than the throughput on a busy machine.\n")
    w("| payload | before (deliveries/s) | after (deliveries/s) | after / before | hub CPU / delivery before (ns) | after (ns) | after / before |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for p in rows:
        key = (100, p)
        med = lambda h, m: res.median("fanout", h, key, m)
        w(f"| {p} B | {spread(res, 'fanout', 'before', key, 'deliveries_per_s')} | "
          f"{spread(res, 'fanout', 'after', key, 'deliveries_per_s')} | "
          f"{fmt_ratio(ratio(med('after', 'deliveries_per_s'), med('before', 'deliveries_per_s')))} | "
          f"{spread(res, 'fanout', 'before', key, 'hub_cpu_per_delivery')} | "
          f"{spread(res, 'fanout', 'after', key, 'hub_cpu_per_delivery')} | "
          f"{fmt_ratio(ratio(med('after', 'hub_cpu_per_delivery'), med('before', 'hub_cpu_per_delivery')))} |")
    w("")


# ------------------------------------------------------------------ report

def main():
    results_path, machine_path, commands_path, out_md, svg_dir = sys.argv[1:6]
    res = Results(load(results_path))
    machine = open(machine_path).read().strip()
    # Ports and process ids change from run to run; the commands do not.
    generic = [re.sub(r"--pid \d+", "--pid $PID",
                      re.sub(r"(127\.0\.0\.1:|-p |tutorial-hub\.js )\d+", r"\1$PORT", line))
               for line in open(commands_path).read().strip().splitlines()]
    commands = list(dict.fromkeys(generic))
    os.makedirs(svg_dir, exist_ok=True)
    rel_svg = os.path.relpath(svg_dir, os.path.dirname(out_md) or ".")
    md = []
    w = md.append

    w("# tcphub benchmarks\n")
    w("Written by `tests/bench/run` (do not edit by hand: run it again). Every figure "
      "below comes from one run on one machine, with tcphub, nats-server and the "
      "Node.js peer (`tests/bench/peers/tutorial-hub.js`, the tutorial's design with "
      "correct framing) measured side by side by the same load generator, "
      "`tcphub-bench` (the crate `bench/`, apart from the server), which speaks both "
      "tcphub's protocol and the NATS client protocol.\n")
    w("Each cell is the **median** of the repetitions, with the lowest and highest in "
      "parentheses. Throughput runs keep a bounded window of messages in flight to "
      "the slowest receiver (512 for fan-out, 256 per pair), so they measure what "
      "each hub delivers without dropping anyone as a slow consumer; every run checks "
      "that deliveries equal what was sent. The unwindowed mode (`--window 0`, its own "
      "section below) publishes as fast as the socket takes it, as `nats bench` does, "
      "and fails a run that loses anything. Payload sizes are the message body "
      "(tcphub: the JSON string's content; NATS: the payload).\n")
    w("To run it again (about 25 minutes; it builds the release binaries, starts every "
      "peer on a free loopback port and stops them all at the end):\n")
    w("```sh\ntests/bench/run                                   # 3 repetitions of everything\n"
      "BENCH_REPS=1 BENCH_SECONDS=1 BENCH_SETTLE=5 tests/bench/run      # a quick look\n"
      "BENCH_BEFORE=../old/target/release/tcphub BENCH_BEFORE_NAME=b09a97b tests/bench/run\n"
      "                                  # also fan-out N=100 of an older build, alternately\n```\n")
    w("One scenario by hand: `cargo build --release -p tcphub-bench`, start a hub, then "
      "for example "
      "`tcphub-bench --server 127.0.0.1:9000 fanout --subs 100 --payload 64` "
      "(or `--proto nats` against a nats-server); `tcphub-bench --help` lists them all.\n")
    w("Every measurement of this run, one JSON object per line as `tcphub-bench --json` "
      "printed it, is in [bench/results.jsonl](bench/results.jsonl).\n")
    w("## Machine\n")
    w("```text\n" + machine + "\n```\n")
    w("This is a shared 2-core machine: the load generator and the hub under test "
      "compete for the same two cores, so absolute figures are lower than on a "
      "dedicated box; the ratios between hubs, measured in the same run, are the point.\n")

    # ---- targets
    fan_keys = [(n, p) for n in (10, 100, 1000) for p in (64, 512)]
    rows = []
    for n in (100, 1000):
        for p in (64, 512):
            r = ratio(res.median("fanout", "tcphub", (n, p), "deliveries_per_s"),
                      res.median("fanout", "nats", (n, p), "deliveries_per_s"))
            rows.append((f"fan-out N={n}, {p} B: tcphub / nats-server ≥ 1.0", r, None if r is None else r >= 1.0))
    for n in (10, 100, 1000):
        for p in (64, 512):
            r = ratio(res.median("fanout", "tcphub", (n, p), "deliveries_per_s"),
                      res.median("fanout", "node", (n, p), "deliveries_per_s"))
            rows.append((f"fan-out N={n}, {p} B: tcphub / Node ≥ 5", r, None if r is None else r >= 5.0))
    r = ratio(res.median("pairs", "tcphub", (50, 64), "deliveries_per_s"),
              res.median("pairs", "node", (50, 64), "deliveries_per_s"))
    rows.append(("directed pairs P=50: tcphub / Node ≥ 3", r, None if r is None else r >= 3.0))
    t99, n99 = res.median("latency", "tcphub", (), "p99"), res.median("latency", "nats", (), "p99")
    r = ratio(t99, n99)
    rows.append(("latency p99 at 10k msg/s, 100 subs: tcphub / nats-server ≤ 1.0", r, None if r is None else r <= 1.0))
    mem_key = next((k for (s, h, k, m) in res.values if s == "idle" and h == "tcphub"), None)
    mem = res.median("idle", "tcphub", mem_key, "rss_per_conn") if mem_key else None
    w("## Targets\n")
    w("| target | measured | |")
    w("| --- | --- | --- |")
    for label, r, ok in rows:
        w(f"| {label} | {fmt_ratio(r)} | {verdict(ok)} |")
    w(f"| memory per idle synced connection ≤ 3 KiB | {num(mem)} KiB | {verdict(None if mem is None else mem <= 3.0)} |")
    for label, value, ok in robustness_targets(res) + room_targets(res) + unwindowed_targets(res):
        w(f"| {label} | {value} | {verdict(ok)} |")
    w("")

    # ---- fan-out
    w("## Fan-out: one publisher, N subscribers (deliveries per second)\n")
    w("| N | payload | tcphub | nats-server | Node.js peer | tcphub / nats | tcphub / Node |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, p in fan_keys:
        cells = [spread(res, "fanout", h, (n, p), "deliveries_per_s") for h in HUBS]
        t = res.median("fanout", "tcphub", (n, p), "deliveries_per_s")
        w(f"| {n} | {p} B | " + " | ".join(cells) +
          f" | {fmt_ratio(ratio(t, res.median('fanout', 'nats', (n, p), 'deliveries_per_s')))}"
          f" | {fmt_ratio(ratio(t, res.median('fanout', 'node', (n, p), 'deliveries_per_s')))} |")
    lost = sum(sum(v) for (s, h, k, m), v in res.values.items() if s in ("fanout", "pairs") and m == "lost")
    w(f"\nMessages lost across all fan-out and pair runs: {num(lost)}.\n")
    w(f"![fan-out throughput against N]({rel_svg}/fanout.svg)\n")
    panels = []
    for p in (64, 512):
        keys = [(n, (n, p)) for n in (10, 100, 1000)]
        series = [(NAMES[h], COLOURS[h], points(res, "fanout", h, keys, "deliveries_per_s")) for h in HUBS]
        panels.append((f"payload {p} B", [(10, "10"), (100, "100"), (1000, "1,000")], series))
    svg_chart(os.path.join(svg_dir, "fanout.svg"), "Fan-out deliveries per second against subscribers N",
              panels, "deliveries / s (log)", y_log=True, x_log=True)
    rooms_section(res, w)

    # ---- pairs
    w("## Directed pairs: 50 pairs sending to each other by alias (deliveries per second)\n")
    w("| payload | tcphub | nats-server | Node.js peer | tcphub / nats | tcphub / Node |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for p in (64, 512):
        key = (50, p)
        if not any(res.get("pairs", h, key, "deliveries_per_s") for h in HUBS):
            continue
        t = res.median("pairs", "tcphub", key, "deliveries_per_s")
        w(f"| {p} B | " + " | ".join(spread(res, "pairs", h, key, "deliveries_per_s") for h in HUBS) +
          f" | {fmt_ratio(ratio(t, res.median('pairs', 'nats', key, 'deliveries_per_s')))}"
          f" | {fmt_ratio(ratio(t, res.median('pairs', 'node', key, 'deliveries_per_s')))} |")
    w("")

    unwindowed_section(res, w)

    observation_section(res, w)

    # ---- latency
    w("## Latency at a fixed 10,000 messages per second to 100 subscribers\n")
    w("One million deliveries per second in all. Latency is measured from each "
      "message's *intended* send time on a fixed schedule (as wrk2 does), so a stall "
      "of the hub counts fully for every message due during it. Microseconds; "
      "`lost` counts deliveries still missing 10 s after the last send. "
      "With the generator's 100 receivers on the same two cores, a million deliveries a "
      "second is close to what this machine carries, so the tail is mostly queueing, "
      "and it varies from run to run more than any other figure here.\n")
    pct = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99_9", "p99.9"), ("max", "max")]
    w("| hub | " + " | ".join(l for _, l in pct) + " | lost |")
    w("| --- | " + " | ".join("---:" for _ in pct) + " | ---: |")
    for h in HUBS:
        w(f"| {NAMES[h]} | " + " | ".join(spread(res, "latency", h, (), m) for m, _ in pct) +
          f" | {spread(res, 'latency', h, (), 'lost')} |")
    w(f"\n![latency percentiles]({rel_svg}/latency.svg)\n")
    ticks = [(i, l) for i, (_, l) in enumerate(pct)]
    series = []
    for h in HUBS:
        pts = []
        for i, (m, _) in enumerate(pct):
            v = res.get("latency", h, (), m)
            if v:
                pts.append((i, statistics.median(v), min(v), max(v)))
        series.append((NAMES[h], COLOURS[h], pts))
    svg_chart(os.path.join(svg_dir, "latency.svg"),
              "Latency percentiles at 10,000 msg/s to 100 subscribers",
              [("", ticks, series)], "microseconds (log)", y_log=True)

    # ---- CPU per delivery
    w("## CPU time per delivery\n")
    w("The hub process's user + system CPU time during the run (from /proc/PID/stat, "
      "10 ms resolution) divided by the messages delivered, in nanoseconds. Unlike "
      "throughput and latency, this hardly moves when other programs share the machine: "
      "it is the steadiest comparison of what each hub spends per message. The last "
      "column is what the load generator itself spent per delivery.\n")
    w("| run | tcphub | nats-server | Node.js peer | tcphub / nats | generator (tcphub run) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: |")
    cpu_rows = [(f"fan-out N={n}, {p} B", "fanout", (n, p)) for n, p in fan_keys]
    cpu_rows += [(f"pairs P=50, {p} B", "pairs", (50, p)) for p in (64, 512)
                 if res.get("pairs", "tcphub", (50, p), "hub_cpu_per_delivery")]
    cpu_rows += unwindowed_cpu_rows(res)
    cpu_rows += [("latency 10k msg/s, 100 subs", "latency", ())]
    for label, scen, key in cpu_rows:
        t = res.median(scen, "tcphub", key, "hub_cpu_per_delivery")
        # The unwindowed runs are tcphub's and nats-server's only.
        cells = ["not run" if scen.endswith("-unwindowed") and h not in UNWINDOWED_HUBS
                 else spread(res, scen, h, key, "hub_cpu_per_delivery") for h in HUBS]
        w(f"| {label} | " + " | ".join(cells) +
          f" | {fmt_ratio(ratio(t, res.median(scen, 'nats', key, 'hub_cpu_per_delivery')))}"
          f" | {spread(res, scen, 'tcphub', key, 'generator_cpu_per_delivery')} |")
    w("")

    # ---- idle
    w("## Idle connections: resident memory of the hub per connection\n")
    w("Each repetition starts a fresh hub, reads its VmRSS, connects and syncs the "
      "clients (NATS: CONNECT, SUB to a subject of its own, PING/PONG), waits 2 s and "
      "reads VmRSS again.\n")
    w("| hub | connections | KiB per connection | RSS before (MiB) | RSS after (MiB) |")
    w("| --- | ---: | ---: | ---: | ---: |")
    for h in HUBS:
        k = next((k for (s, hh, k, m) in res.values if s == "idle" and hh == h), None)
        if k is None:
            w(f"| {NAMES[h]} | failed | | | |")
            continue
        w(f"| {NAMES[h]} | {num(k[0])} | {spread(res, 'idle', h, k, 'rss_per_conn')} | "
          f"{spread(res, 'idle', h, k, 'rss_before')} | {spread(res, 'idle', h, k, 'rss_after')} |")
    w("")

    # ---- churn
    w("## Connection churn: connect, sync, close (16 clients at once)\n")
    w("| hub | connections per second | cycle p50 (ms) | cycle p99 (ms) |")
    w("| --- | ---: | ---: | ---: |")
    for h in HUBS:
        w(f"| {NAMES[h]} | {spread(res, 'churn', h, (), 'conns_per_s')} | "
          f"{spread(res, 'churn', h, (), 'cycle_p50')} | {spread(res, 'churn', h, (), 'cycle_p99')} |")
    w("")

    # ---- generator capacity
    w("## The load generator is not the bottleneck\n")
    w("`tcphub-bench capacity` runs the fan-out's publisher and subscribers against "
      "`tcphub-bench sink`, a server that answers joins, discards what is published "
      "and floods every subscriber with ready-made messages. What the generator "
      "publishes and receives there is the most it can drive; each hub's best fan-out "
      "figure at the same N is well below it when the generator is not what limits.\n")
    w("Publishing alone (no subscribers), against the fastest any hub of that "
      "protocol took messages from the publisher (fan-out, N=10, 64 B):\n")
    w("| protocol | generator publishes (msg/s) | fastest hub intake (msg/s) | headroom |")
    w("| --- | ---: | ---: | ---: |")
    for sink, hubs in (("sink-tcphub", ("tcphub", "node")), ("sink-nats", ("nats",))):
        pub = res.median("capacity", sink, (0, 64), "published_per_s")
        best = max((res.median("fanout", h, (10, 64), "published_per_s") or 0) for h in hubs) or None
        w(f"| {NAMES[sink]} | {spread(res, 'capacity', sink, (0, 64), 'published_per_s')} | "
          f"{num(best)} | {fmt_ratio(ratio(pub, best))} |")
    w("\nReceiving, N subscribers flooded by the sink, against the best fan-out any "
      "hub of that protocol delivered at the same N (64 B):\n")
    w("| protocol | N | generator receives (deliveries/s) | best hub fan-out (deliveries/s) | headroom |")
    w("| --- | ---: | ---: | ---: | ---: |")
    for sink, hubs in (("sink-tcphub", ("tcphub", "node")), ("sink-nats", ("nats",))):
        for n in (100, 1000):
            recv = res.median("capacity", sink, (n, 64), "received_per_s")
            best = max((res.median("fanout", h, (n, 64), "deliveries_per_s") or 0) for h in hubs) or None
            w(f"| {NAMES[sink]} | {n} | {spread(res, 'capacity', sink, (n, 64), 'received_per_s')} | "
              f"{num(best)} | {fmt_ratio(ratio(recv, best))} |")
    w("")

    burst_section(res, w)
    list_spam_section(res, w)
    before_after_section(res, w)

    if res.failures:
        w("## Runs that failed\n")
        for f in res.failures:
            why = "; ".join(f.get("failures", []))
            w(f"- {f['hub']} rep {f['rep']}: `{f.get('args', '')}`" + (f": {why}" if why else ""))
        w("")

    w("## TLS and authentication\n")
    w("Measured separately by `tests/bench/security`: see\n[bench/security.md](bench/security.md).\n")
    w("## Commands\n")
    w("The script starts each peer on a free loopback port (`$PORT`; `$PID` is its "
      "process id), at niceness -10 when run as root, like the generator, runs these "
      "(each measurement `--json`, several times), and stops the peers.\n")
    w("```sh\n" + "\n".join(commands) + "\n```\n")
    with open(out_md, "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
