#!/usr/bin/env python3
"""What a cluster run cost outside the generator: the CPU time of the
cluster's node processes and, for clusters over Redis, Redis's commands,
bytes and CPU. tests/bench/cluster takes a snapshot before and after each
run and adds the difference to the run's record.

    cluster_stats.py snapshot REDIS_PORT|- PID...     a snapshot (JSON, stdout)
    cluster_stats.py merge BEFORE AFTER PLACEMENT < record > record

The per-delivery figures divide by the deliveries the generator counted,
the per-message ones by the messages it published (a broadcast is one
message and N deliveries): a hub that sends a broadcast through Redis once
shows it in the second, one that sends it once per recipient in both.
"""
import json
import os
import subprocess
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU of a process so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def redis_info(port):
    """INFO all as a dict, commandstats as {command: calls}."""
    text = subprocess.run(["redis-cli", "-p", str(port), "info", "all"],
                          capture_output=True, text=True, timeout=10, check=True).stdout
    info, calls = {}, {}
    for line in text.splitlines():
        if ":" not in line or line.startswith("#"):
            continue
        key, value = line.split(":", 1)
        if key.startswith("cmdstat_"):
            fields = dict(kv.split("=", 1) for kv in value.split(","))
            calls[key[len("cmdstat_"):]] = int(fields["calls"])
        else:
            info[key] = value.strip()
    return {
        "commands": int(info["total_commands_processed"]),
        "net_in": int(info["total_net_input_bytes"]),
        "net_out": int(info["total_net_output_bytes"]),
        "cpu": float(info["used_cpu_sys"]) + float(info["used_cpu_user"]),
        "calls": calls,
    }


def snapshot(port, pids):
    return {
        "cpu": sum(cpu_seconds(p) for p in pids),
        "redis": redis_info(port) if port != "-" else None,
    }


def counts(r):
    """(published messages, deliveries) of a record."""
    m = {x["name"]: x["value"] for x in r.get("metrics", [])}
    if r.get("scenario") == "latency":
        p = r["params"]
        sent = round(p["warmup"] * p["rate"]) + round(p["duration"] * p["rate"])
        return sent, sent * p["subs"] - m.get("lost", 0)
    return m.get("published", 0), m.get("delivered", 0)


def merge(before, after, placement, r):
    if not r.get("metrics"):
        return r
    r.setdefault("params", {})["placement"] = placement
    published, delivered = counts(r)
    per_d = max(delivered, 1)
    per_m = max(published, 1)
    add = r["metrics"].append

    def metric(name, value, unit):
        add({"name": name, "value": value, "unit": unit})

    used = after["cpu"] - before["cpu"]
    metric("cluster_cpu", used, "s")
    metric("cluster_cpu_per_delivery", used * 1e9 / per_d, "ns")
    b, a = before.get("redis"), after.get("redis")
    if a and b:
        # The snapshot's own INFO is one command, counted by the next one.
        commands = a["commands"] - b["commands"] - 1
        cpu = a["cpu"] - b["cpu"]
        for name, value, unit in [
            ("redis_commands", commands, "cmd"),
            ("redis_in_bytes", a["net_in"] - b["net_in"], "B"),
            ("redis_out_bytes", a["net_out"] - b["net_out"], "B"),
            ("redis_cpu", cpu * 1e9, "ns"),
        ]:
            metric(f"{name}_per_delivery", value / per_d, unit)
            metric(f"{name}_per_message", value / per_m, unit)
        metric("redis_cpu_total", cpu, "s")
        calls = {k: v - b["calls"].get(k, 0) for k, v in a["calls"].items()}
        calls["info"] = calls.get("info", 1) - 1
        r["redis_calls"] = {k: v for k, v in sorted(calls.items()) if v > 0}
    return r


if __name__ == "__main__":
    if sys.argv[1] == "snapshot":
        print(json.dumps(snapshot(sys.argv[2], [int(p) for p in sys.argv[3:]])))
    elif sys.argv[1] == "merge":
        with open(sys.argv[2]) as f:
            before = json.load(f)
        with open(sys.argv[3]) as f:
            after = json.load(f)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(merge(before, after, sys.argv[4], json.loads(line))))
    else:
        sys.exit(__doc__)
