#!/usr/bin/env python3
"""One line of `tcphub-bench --json` output, as tests/bench/run records it.

    record.py PEER REP EXIT_CODE ARGS < line      the record (stdout), exit 1 if none
    record.py --summary < record                  a few figures of it, for the log

A run that exited non-zero but printed its report (burst and list-spam do,
when the hub cut a reader or lost a message) is kept with "failed": true
and its figures; one that printed nothing becomes a bare failure record.
"""
import json
import sys

# The figures worth a glance while the run goes on, in this order.
SUMMARY = ["deliveries_per_s", "readers_cut", "lost", "ping_base_p99", "ping_spam_p99",
           "list_answered_per_s", "spammer_cut_after", "rss_peak", "rss_after",
           "rss_per_conn", "p99", "conns_per_s", "published_per_s", "received_per_s"]


def record(peer, rep, rc, args, text):
    try:
        r = json.loads(text)
    except ValueError:
        r = {"scenario": args.split()[0] if args else "", "hub": peer, "metrics": []}
    r["rep"] = int(rep)
    if rc != "0":
        r["failed"] = True
        r["args"] = args
    print(json.dumps(r))
    return bool(r["metrics"])


def summary(r):
    m = {x["name"]: x for x in r.get("metrics", [])}
    shown = [f"{n}={m[n]['value']:.6g} {m[n]['unit']}" for n in SUMMARY if n in m][:4]
    if not shown and r.get("metrics"):
        first = r["metrics"][0]
        shown = [f"{first['name']}={first['value']:.6g} {first['unit']}"]
    failures = r.get("failures", [])
    return ", ".join(shown) + ("; FAILED: " + "; ".join(failures) if failures else "")


if __name__ == "__main__":
    if sys.argv[1:] == ["--summary"]:
        print(summary(json.loads(sys.stdin.read())))
    else:
        ok = record(*sys.argv[1:5], sys.stdin.read().strip())
        sys.exit(0 if ok else 1)
