#!/usr/bin/env python3
"""Summarises the results directory of scripts/bench-vs-zookeeper.sh as Markdown tables: the
median of the rounds per workload and server, and the ratio Corral / ZooKeeper."""
import json, statistics, sys
from pathlib import Path

results = Path(sys.argv[1])
facts = dict(l.split("=", 1) for l in (results / "machine.txt").read_text().splitlines())
print(f"{facts['date_utc']}, {facts['mode']} mode: {facts['cores']} cores ({facts['cpu']}), "
      f"{facts['memory']}, disk {facts['disk']}, fsync floor {facts['fsync_floor_ms']} ms, "
      f"load average at start {facts['load_average_at_start']}")
print(f"ZooKeeper {facts['zookeeper']}; Corral {facts['corral']}")
print(f"{facts['rounds']} rounds of {facts['duration_s']} s (+{facts['warmup_s']} s warm-up); "
      f"{facts['clients']} clients x {facts['in_flight']} in flight over {facts['keys']} keys "
      f"of 100 bytes; watch-fanout {facts['watchers']} watchers; ephemeral-churn "
      f"{facts['clients']} concurrent churners")
print()

def med(xs):
    return statistics.median(xs) if xs else None

def fmt(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"

def ratio(c, z):
    return "n/a" if c is None or z is None or z == 0 else f"{c / z:.2f}"

runs = [json.loads(l) for l in (results / "runs.jsonl").read_text().splitlines()] \
    if (results / "runs.jsonl").exists() else []
def figure_of(rows, server, w, f):
    return med([f(r) for r in rows if r["server"] == server and r["result"]["workload"] == w])

ops = lambda r: r["result"]["ops_per_s"]
p = lambda q: (lambda r: r["result"]["latency_us"][q] / 1000)
# Server CPU over the whole run (setup, warm-up and cleanup included) per measured op: an upper
# bound, comparable between the servers because both do the same extra work.
cpu = lambda r: r["server_cpu_s"] * 1e6 / max(r["result"]["ops"], 1)

for topo in ("standalone", "ensemble"):
    rows = [r for r in runs if r["topology"] == topo and r.get("phase", "closed") == "closed"]
    if not rows:
        continue
    print(f"### {topo}, closed loop (same concurrency): median of {facts['rounds']} rounds")
    print()
    print("| workload | ops/s Corral | ops/s ZooKeeper | ratio | p50 ms C / Z | ratio "
          "| p99 ms C / Z | ratio | p99.9 ms C / Z | server CPU µs/op C / Z |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w in dict.fromkeys(r["result"]["workload"] for r in rows):
        figure = lambda server, f: figure_of(rows, server, w, f)
        c_ops, z_ops = figure("corral", ops), figure("zookeeper", ops)
        c50, z50 = figure("corral", p("p50")), figure("zookeeper", p("p50"))
        c99, z99 = figure("corral", p("p99")), figure("zookeeper", p("p99"))
        c999, z999 = figure("corral", p("p999")), figure("zookeeper", p("p999"))
        ccpu, zcpu = figure("corral", cpu), figure("zookeeper", cpu)
        print(f"| {w} | {fmt(c_ops)} | {fmt(z_ops)} | {ratio(c_ops, z_ops)} "
              f"| {fmt(c50, 2)} / {fmt(z50, 2)} | {ratio(c50, z50)} "
              f"| {fmt(c99, 2)} / {fmt(z99, 2)} | {ratio(c99, z99)} "
              f"| {fmt(c999, 2)} / {fmt(z999, 2)} | {fmt(ccpu)} / {fmt(zcpu)} |")
    print()
    phases = dict.fromkeys(r["phase"] for r in runs
                           if r["topology"] == topo and r.get("phase", "closed") != "closed")
    for phase in phases:
        rows = [r for r in runs if r["topology"] == topo and r.get("phase") == phase]
        print(f"### {topo}, the same load: a fixed rate of {phase} x ZooKeeper's closed-loop "
              f"median, median of {facts['rounds']} rounds")
        print()
        print("| workload | offered /s | achieved /s C / Z | p50 ms C / Z | ratio "
              "| p99 ms C / Z | ratio | p99.9 ms C / Z | ratio | server CPU µs/op C / Z |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for w in dict.fromkeys(r["result"]["workload"] for r in rows):
            figure = lambda server, f: figure_of(rows, server, w, f)
            offered = figure("corral", lambda r: r["result"]["rate"])
            c_ops, z_ops = figure("corral", ops), figure("zookeeper", ops)
            c50, z50 = figure("corral", p("p50")), figure("zookeeper", p("p50"))
            c99, z99 = figure("corral", p("p99")), figure("zookeeper", p("p99"))
            c999, z999 = figure("corral", p("p999")), figure("zookeeper", p("p999"))
            ccpu, zcpu = figure("corral", cpu), figure("zookeeper", cpu)
            print(f"| {w} | {fmt(offered)} | {fmt(c_ops)} / {fmt(z_ops)} "
                  f"| {fmt(c50, 2)} / {fmt(z50, 2)} | {ratio(c50, z50)} "
                  f"| {fmt(c99, 2)} / {fmt(z99, 2)} | {ratio(c99, z99)} "
                  f"| {fmt(c999, 2)} / {fmt(z999, 2)} | {ratio(c999, z999)} "
                  f"| {fmt(ccpu)} / {fmt(zcpu)} |")
        print()

mem_path = results / "memory.jsonl"
if mem_path.exists():
    mem = [json.loads(l) for l in mem_path.read_text().splitlines()]
    def pick(server, kind, key):
        return med([m[key] for m in mem if m["server"] == server and m["kind"] == kind])
    print(f"### memory and restart, {facts['mem_keys']} znodes of 100 bytes")
    print()
    print("| figure | Corral | ZooKeeper | ratio |")
    print("|---|---:|---:|---:|")
    for label, kind, key, scale in (
        ("RSS empty (MiB)", "load", "rss_empty_kib", 1 / 1024),
        ("RSS after loading (MiB)", "load", "rss_loaded_kib", 1 / 1024),
        ("RSS after restart (MiB)", "restart", "rss_restarted_kib", 1 / 1024),
        ("restart to first read (ms, median)", "restart", "restart_ms", 1),
    ):
        c, z = pick("corral", kind, key), pick("zookeeper", kind, key)
        c = None if c is None else c * scale
        z = None if z is None else z * scale
        print(f"| {label} | {fmt(c, 1)} | {fmt(z, 1)} | {ratio(c, z)} |")
    loads = {m["server"]: m["load"]["creates_per_s"] for m in mem if m["kind"] == "load"}
    c, z = loads.get("corral"), loads.get("zookeeper")
    print(f"| load rate (creates/s, one run) | {fmt(c)} | {fmt(z)} | {ratio(c, z)} |")
