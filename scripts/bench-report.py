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
ops = lambda r: r["result"]["ops_per_s"]
p = lambda q: (lambda r: r["result"]["latency_us"][q] / 1000)
# Server CPU over the whole run (setup, warm-up and cleanup included) per measured op: an upper
# bound, comparable between the servers because both do the same extra work.
cpu = lambda r: r["server_cpu_s"] * 1e6 / max(r["result"]["ops"], 1)
FIGURES = {"ops": ops, "p50": p("p50"), "p99": p("p99"), "p999": p("p999"), "cpu": cpu,
           "rate": lambda r: r["result"].get("rate")}

def medians(rows, w):
    """Per figure name, the (Corral, ZooKeeper) medians over the rounds of workload w."""
    def of(server, f):
        xs = (f(r) for r in rows if r["server"] == server and r["result"]["workload"] == w)
        return med([x for x in xs if x is not None])
    return {name: (of("corral", f), of("zookeeper", f)) for name, f in FIGURES.items()}

def pair(m, name, digits=2):
    c, z = m[name]
    return f"{fmt(c, digits)} / {fmt(z, digits)}"

def workloads_of(rows):
    return dict.fromkeys(r["result"]["workload"] for r in rows)

def p99_by_round(rows, w):
    """The p99 ratio Corral / ZooKeeper of each round of workload w, in round order: how far
    one round's verdict is from the median's."""
    by_round = {}
    for r in rows:
        if r["result"]["workload"] == w:
            by_round.setdefault(r["round"], {})[r["server"]] = p("p99")(r)
    return " / ".join(ratio(v.get("corral"), v.get("zookeeper")) for _, v in sorted(by_round.items()))

def table(title, columns, rows, line):
    """A Markdown table: the title, a header of columns (the first left-aligned), line(m) for
    the medians m of each workload in rows, and the p99 ratio of each round."""
    columns = columns + ["p99 ratio by round"]
    print(f"### {title}, median of {facts['rounds']} rounds")
    print()
    print("| " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * (len(columns) - 1))
    for w in workloads_of(rows):
        print(f"| {w} | " + line(medians(rows, w)) + f" | {p99_by_round(rows, w)} |")
    print()

def extras(title, rows):
    """The workloads' own figures in milliseconds (churn's steps, fan-out's per-notification
    delays), median over the rounds, Corral / ZooKeeper."""
    lines = []
    for w in workloads_of(rows):
        names = dict.fromkeys(k for r in rows if r["result"]["workload"] == w
                              for k in r["result"].get("extra", {}) if k.endswith("_ms"))
        for k in names:
            c, z = (med([r["result"]["extra"][k] for r in rows if r["server"] == server
                         and r["result"]["workload"] == w and k in r["result"]["extra"]])
                    for server in ("corral", "zookeeper"))
            lines.append(f"| {w} | {k} | {fmt(c, 2)} / {fmt(z, 2)} | {ratio(c, z)} |")
    if not lines:
        return
    print(f"#### {title}: the workloads' own figures, median of {facts['rounds']} rounds")
    print()
    print("| workload | figure | C / Z | ratio |")
    print("|---|---|---:|---:|")
    print("\n".join(lines))
    print()

for topo in ("standalone", "ensemble"):
    rows = [r for r in runs if r["topology"] == topo and r.get("phase", "closed") == "closed"]
    if not rows:
        continue
    table(f"{topo}, closed loop (same concurrency)",
          ["workload", "ops/s Corral", "ops/s ZooKeeper", "ratio", "p50 ms C / Z", "ratio",
           "p99 ms C / Z", "ratio", "p99.9 ms C / Z", "server CPU µs/op C / Z"], rows,
          lambda m: f"{fmt(m['ops'][0])} | {fmt(m['ops'][1])} | {ratio(*m['ops'])} "
                    f"| {pair(m, 'p50')} | {ratio(*m['p50'])} | {pair(m, 'p99')} "
                    f"| {ratio(*m['p99'])} | {pair(m, 'p999')} | {pair(m, 'cpu', 0)}")
    extras(f"{topo}, closed loop", rows)
    phases = dict.fromkeys(r["phase"] for r in runs
                           if r["topology"] == topo and r.get("phase", "closed") != "closed")
    for phase in phases:
        rows = [r for r in runs if r["topology"] == topo and r.get("phase") == phase]
        table(f"{topo}, the same load: a fixed rate of {phase} x ZooKeeper's closed-loop median",
              ["workload", "offered /s", "achieved /s C / Z", "p50 ms C / Z", "ratio",
               "p99 ms C / Z", "ratio", "p99.9 ms C / Z", "ratio", "server CPU µs/op C / Z"], rows,
              lambda m: f"{fmt(m['rate'][0])} | {pair(m, 'ops', 0)} | {pair(m, 'p50')} "
                        f"| {ratio(*m['p50'])} | {pair(m, 'p99')} | {ratio(*m['p99'])} "
                        f"| {pair(m, 'p999')} | {ratio(*m['p999'])} | {pair(m, 'cpu', 0)}")
        extras(f"{topo} at {phase} x ZooKeeper's closed loop", rows)

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
