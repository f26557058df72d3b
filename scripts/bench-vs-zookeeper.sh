#!/usr/bin/env bash
# Corral side by side with Apache ZooKeeper 3.8, measured by the same client (corral-bench).
#
#   scripts/bench-vs-zookeeper.sh [--quick | --full] [--topology standalone|ensemble|all]
#                                 [--rounds N] [--data-base DIR]
#                                 [--workloads create,set,...] [--watchers N]
#                                 [--rate-fractions 0.5,0.8 | none]
#   --topology memory runs only the memory and restart measurements.
#   --workloads runs only the named workloads; --watchers sets watch-fanout's watcher count
#   (quick 100, full 1000; 10000 needs an open-file limit above 10000, see ulimit -n).
#
# Both servers get the same zoo.cfg settings (tickTime, snapCount, maxClientCnxns=0, fsync on:
# ZooKeeper's forceSync=yes, Corral always fdatasyncs before it answers a write) and data
# directories on the same disk, on loopback. Each workload runs alternately on Corral and on
# ZooKeeper (A B A B ..., at least 3 rounds each); the report gives the median of the rounds and
# the ratio Corral / ZooKeeper. Then the same load for both: each workload again at fixed rates
# (corral-bench --rate), each a fraction of ZooKeeper's closed-loop median in this run
# (--rate-fractions, default 0.5 and 0.8), alternating as before. Then, standalone only: resident memory after loading N znodes of
# 100 bytes, and restart time (process start to the first served read of that data).
#
# Installs Apache ZooKeeper from Debian (package zookeeper) when its jar is missing. The 3-node
# ensemble topology runs a 3-node Corral ensemble and a 3-node ZooKeeper ensemble on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/zoo-cfg.sh

mode=quick
topology=standalone
rounds=3
data_base=""
only_workloads=""
watchers_override=""
rate_fractions="0.5,0.8"
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --topology) topology="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --data-base) data_base="$2"; shift ;;
    --workloads) only_workloads="$2"; shift ;;
    --watchers) watchers_override="$2"; shift ;;
    --rate-fractions) rate_fractions="$2"; shift ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
case "$topology" in standalone | ensemble | all | memory) ;; *) echo "bad --topology" >&2; exit 2 ;; esac
[ "$rounds" -ge 3 ] || { echo "--rounds must be at least 3" >&2; exit 2; }

if [ "$mode" = quick ]; then
    duration_s=5 warmup_s=2 clients=16 in_flight=8 keys=10000 watchers=100 mem_keys=100000
    fsync_probe_writes=200
else
    duration_s=30 warmup_s=10 clients=64 in_flight=16 keys=100000 watchers=1000 mem_keys=1000000
    fsync_probe_writes=2000
fi
workloads=(create set get mixed multi ephemeral-churn watch-fanout)
if [ -n "$only_workloads" ]; then
    IFS=, read -r -a workloads <<<"$only_workloads"
fi
fractions=()
if [ "$rate_fractions" != none ]; then
    IFS=, read -r -a fractions <<<"$rate_fractions"
fi
if [ -n "$watchers_override" ]; then
    watchers="$watchers_override"
    if [ "$((watchers + 100))" -gt "$(ulimit -n)" ]; then
        echo "--watchers $watchers needs more open files than ulimit -n ($(ulimit -n))" >&2
        exit 2
    fi
fi
snap_count=100000
zk_heap="-Xmx4g"

# --- ZooKeeper -------------------------------------------------------------------------------
zk_jar=/usr/share/java/zookeeper.jar
if [ ! -f "$zk_jar" ]; then
    echo "Apache ZooKeeper is missing: installing it from Debian" >&2
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper
fi
command -v java >/dev/null || { echo "java is missing" >&2; exit 1; }
# The jar's manifest lists its dependencies (Class-Path), as Debian's zkEnv.sh relies on.
zk_cp="/etc/zookeeper/conf:$zk_jar"
zk_version="$(dpkg-query -W -f '${Version}' libzookeeper-java 2>/dev/null || echo unknown)"

# --- Build -----------------------------------------------------------------------------------
cargo build --release --bin corral --bin corral-bench
target_dir="$(cargo_target_dir)"
corral_bin="$target_dir/release/corral"
bench_bin="$target_dir/release/corral-bench"

# --- Working directory, machine facts, fsync floor ------------------------------------------
if [ -z "$data_base" ]; then
    data_base="$(mktemp -d "${TMPDIR:-/tmp}/corral-vs-zk.XXXXXX")"
fi
mkdir -p "$data_base"
results="$data_base/results"
mkdir -p "$results"
rm -f "$results"/*.jsonl
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# One O_DSYNC write after another: each must reach the disk before the next; the mean is the
# floor under any fsync-per-batch server on this disk.
fsync_floor_ms() {
    local probe="$data_base/fsync-probe" seconds
    seconds="$(dd if=/dev/zero of="$probe" bs=4096 count="$fsync_probe_writes" oflag=dsync 2>&1 |
        sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p')"
    rm -f "$probe"
    python3 -c "print(f'{$seconds * 1000 / $fsync_probe_writes:.3f}')"
}
fsync_ms="$(fsync_floor_ms)"
{
    echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "mode=$mode"
    echo "cores=$(nproc)"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "disk=$(df -PT "$data_base" | awk 'NR == 2 {print $1 " (" $2 ")"}')"
    echo "fsync_floor_ms=$fsync_ms"
    echo "load_average_at_start=$(cut -d ' ' -f 1-3 /proc/loadavg)"
    echo "zookeeper=$zk_version ($(java -version 2>&1 | head -n 1)), $zk_heap"
    echo "corral=$(git rev-parse --short HEAD)"
    echo "rounds=$rounds"
    echo "duration_s=$duration_s"
    echo "warmup_s=$warmup_s"
    echo "clients=$clients"
    echo "in_flight=$in_flight"
    echo "keys=$keys"
    echo "watchers=$watchers"
    echo "mem_keys=$mem_keys"
    echo "rate_fractions=$rate_fractions"
} >"$results/machine.txt"
cat "$results/machine.txt"

# --- Servers ---------------------------------------------------------------------------------
# write_cfg FILE DATA_DIR CLIENT_PORT [server.N lines...]: zoo-cfg.sh's common lines
# (tickTime=2000, loopback, no connection limit) and the measurement's own.
write_cfg() {
    local file="$1" dir="$2" port="$3"
    shift 3
    mkdir -p "$dir"
    write_zoo_cfg "$file" "$dir" "$port" initLimit=10 syncLimit=5 "snapCount=$snap_count" \
        forceSync=yes admin.enableServer=false 4lw.commands.whitelist=srvr,mntr,ruok "$@"
}

# start KIND CFG LOG; sets started_pid. KIND: corral, zk (standalone) or zk-peer (ensemble).
start() {
    local kind="$1" cfg="$2" log="$3"
    case "$kind" in
    # Corral logs at info by default; ZooKeeper here has no slf4j binding and logs nothing.
    corral) RUST_LOG=warn "$corral_bin" --config "$cfg" >"$log" 2>&1 & ;;
    zk) java $zk_heap -cp "$zk_cp" org.apache.zookeeper.server.ZooKeeperServerMain "$cfg" \
        >"$log" 2>&1 & ;;
    zk-peer) java $zk_heap -cp "$zk_cp" org.apache.zookeeper.server.quorum.QuorumPeerMain \
        "$cfg" >"$log" 2>&1 & ;;
    esac
    started_pid=$!
    pids+=("$started_pid")
}

stop() {
    local pid
    for pid in "$@"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        wait "$pid" 2>/dev/null || true
    done
}

wait_ready() {
    "$bench_bin" --server "$1" first-read --timeout-s 120 >/dev/null
}

# Server CPU time (user + system) in clock ticks, summed over the given pids.
cpu_ticks() {
    local total=0 pid fields
    for pid in "$@"; do
        # Fields 14 and 15 of /proc/PID/stat, counted after the parenthesised command name.
        fields="$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d ' ' -f 12,13)"
        total=$((total + ${fields% *} + ${fields#* }))
    done
    echo "$total"
}
clk_tck="$(getconf CLK_TCK)"

rss_kib() {
    awk '/VmRSS/ {print $2}' "/proc/$1/status"
}

# run_one TOPOLOGY SERVER_LABEL ROUND WORKLOAD PHASE ADDRESSES PIDS...
# PHASE: "closed" (closed loop), or a fraction F: a fixed rate of F times ZooKeeper's closed-loop
# median ops/s for this workload and topology, from this run's earlier rounds.
run_one() {
    local topo="$1" label="$2" round="$3" workload="$4" phase="$5" addrs="$6"
    shift 6
    local args=(--clients "$clients" --in-flight "$in_flight" --keys "$keys")
    [ "$workload" = watch-fanout ] && args=(--clients "$watchers")
    local rate=null
    if [ "$phase" != closed ]; then
        rate="$(closed_loop_rate "$topo" "$workload" "$phase")"
        args+=(--rate "$rate")
    fi
    local before after line
    before="$(cpu_ticks "$@")"
    local what="closed loop"
    [ "$rate" = null ] || what="$rate/s, $phase of ZooKeeper's closed loop"
    echo "== $topo round $round: $workload on $label ($what)" >&2
    line="$("$bench_bin" --server "$addrs" run --workload "$workload" "${args[@]}" \
        --duration-s "$duration_s" --warmup-s "$warmup_s" --quiet | tail -n 1)"
    after="$(cpu_ticks "$@")"
    echo "   $line" >&2
    echo "{\"topology\":\"$topo\",\"server\":\"$label\",\"round\":$round,\"phase\":\"$phase\",\"server_cpu_s\":$(((after - before) / clk_tck)).$(printf '%02d' $(((after - before) % clk_tck * 100 / clk_tck))),\"result\":$line}" \
        >>"$results/runs.jsonl"
}

# closed_loop_rate TOPOLOGY WORKLOAD FRACTION: FRACTION x ZooKeeper's median closed-loop ops/s.
closed_loop_rate() {
    python3 - "$results/runs.jsonl" "$1" "$2" "$3" <<'PY'
import json, statistics, sys
path, topo, workload, fraction = sys.argv[1:]
rates = [r["result"]["ops_per_s"] for r in map(json.loads, open(path))
         if r["topology"] == topo and r["server"] == "zookeeper" and r.get("phase") == "closed"
         and r["result"]["workload"] == workload]
print(f"{float(fraction) * statistics.median(rates):.0f}")
PY
}

# rounds_on TOPOLOGY CORRAL_ADDRS ZK_ADDRS "CORRAL_PIDS" "ZK_PIDS": every workload, closed loop,
# then at each fixed rate, alternating Corral and ZooKeeper.
rounds_on() {
    local topo="$1" c_addrs="$2" z_addrs="$3" c_pids="$4" z_pids="$5" phase round workload
    for phase in closed "${fractions[@]}"; do
        for round in $(seq 1 "$rounds"); do
            for workload in "${workloads[@]}"; do
                # shellcheck disable=SC2086 # the pid lists split into arguments
                run_one "$topo" corral "$round" "$workload" "$phase" "$c_addrs" $c_pids
                # shellcheck disable=SC2086
                run_one "$topo" zookeeper "$round" "$workload" "$phase" "$z_addrs" $z_pids
            done
        done
    done
}

# --- Standalone --------------------------------------------------------------------------------
standalone() {
    local c_cfg="$data_base/corral.cfg" z_cfg="$data_base/zk.cfg"
    write_cfg "$c_cfg" "$data_base/corral-data" 21811
    write_cfg "$z_cfg" "$data_base/zk-data" 21812
    start corral "$c_cfg" "$data_base/corral.log"
    local c_pid=$started_pid
    start zk "$z_cfg" "$data_base/zk.log"
    local z_pid=$started_pid
    wait_ready 127.0.0.1:21811
    wait_ready 127.0.0.1:21812
    rounds_on standalone 127.0.0.1:21811 127.0.0.1:21812 "$c_pid" "$z_pid"
    stop "$c_pid" "$z_pid"
    # A quick run leaves ~10 GB of logs here (a disk that filled up once stopped this machine);
    # the results and the servers' own logs stay.
    rm -rf "$data_base/corral-data" "$data_base/zk-data"
}

# --- Memory after loading, restart time ----------------------------------------------------------
# load_and_measure LABEL KIND PORT: fresh data dir, load mem_keys znodes, record RSS, stop.
load_and_measure() {
    local label="$1" kind="$2" port="$3" cfg="$data_base/$1-mem.cfg"
    rm -rf "$data_base/$label-mem-data"
    write_cfg "$cfg" "$data_base/$label-mem-data" "$port"
    start "$kind" "$cfg" "$data_base/$label-mem.log"
    local pid=$started_pid
    wait_ready "127.0.0.1:$port"
    local rss_empty load_line rss_loaded
    rss_empty="$(rss_kib "$pid")"
    echo "== loading $mem_keys znodes of 100 bytes into $label" >&2
    load_line="$("$bench_bin" --server "127.0.0.1:$port" load --keys "$mem_keys" --value-size 100)"
    sleep 2
    rss_loaded="$(rss_kib "$pid")"
    echo "   $load_line; RSS empty $rss_empty KiB, loaded $rss_loaded KiB" >&2
    echo "{\"server\":\"$label\",\"kind\":\"load\",\"rss_empty_kib\":$rss_empty,\"rss_loaded_kib\":$rss_loaded,\"load\":$load_line}" \
        >>"$results/memory.jsonl"
    stop "$pid"
}

# restart_once LABEL KIND PORT ROUND: start on the loaded data, time to the first read of a key.
restart_once() {
    local label="$1" kind="$2" port="$3" round="$4" cfg="$data_base/$1-mem.cfg"
    local started_ns finished_ns pid
    started_ns="$(date +%s%N)"
    start "$kind" "$cfg" "$data_base/$label-restart.log"
    pid=$started_pid
    "$bench_bin" --server "127.0.0.1:$port" first-read --path /corral-bench-load/k00000000 \
        --timeout-s 600 >/dev/null
    finished_ns="$(date +%s%N)"
    sleep 1
    local rss
    rss="$(rss_kib "$pid")"
    local ms=$(((finished_ns - started_ns) / 1000000))
    echo "== restart $round of $label: first read after $ms ms, RSS $rss KiB" >&2
    echo "{\"server\":\"$label\",\"kind\":\"restart\",\"round\":$round,\"restart_ms\":$ms,\"rss_restarted_kib\":$rss}" \
        >>"$results/memory.jsonl"
    stop "$pid"
}

memory_and_restart() {
    load_and_measure corral corral 21813
    load_and_measure zookeeper zk 21814
    local round
    for round in $(seq 1 "$rounds"); do
        restart_once corral corral 21813 "$round"
        restart_once zookeeper zk 21814 "$round"
    done
    rm -rf "$data_base/corral-mem-data" "$data_base/zookeeper-mem-data"
}

# --- 3-node ensembles on loopback, Corral's and ZooKeeper's --------------------------------------
# start_ensemble KIND LABEL CLIENT_BASE PEER_BASE ELECTION_BASE; sets ens_pids and ens_addrs.
start_ensemble() {
    local kind="$1" label="$2" client_base="$3" peer_base="$4" election_base="$5"
    local servers=() i
    for i in 1 2 3; do
        servers+=("server.$i=127.0.0.1:$((peer_base + i)):$((election_base + i))")
    done
    ens_pids=()
    ens_addrs=""
    for i in 1 2 3; do
        local dir="$data_base/$label-ensemble-$i"
        write_cfg "$data_base/$label-ensemble-$i.cfg" "$dir" $((client_base + i)) "${servers[@]}"
        echo "$i" >"$dir/myid"
    done
    for i in 1 2 3; do
        start "$kind" "$data_base/$label-ensemble-$i.cfg" "$data_base/$label-ensemble-$i.log"
        ens_pids+=("$started_pid")
        ens_addrs="$ens_addrs${ens_addrs:+,}127.0.0.1:$((client_base + i))"
    done
    for i in 1 2 3; do
        wait_ready "127.0.0.1:$((client_base + i))"
    done
}

ensemble() {
    start_ensemble corral corral 21850 21860 21870
    local c_pids=("${ens_pids[@]}") c_addrs="$ens_addrs"
    start_ensemble zk-peer zk 21820 21830 21840
    local z_pids=("${ens_pids[@]}") z_addrs="$ens_addrs"
    rounds_on ensemble "$c_addrs" "$z_addrs" "${c_pids[*]}" "${z_pids[*]}"
    stop "${c_pids[@]}" "${z_pids[@]}"
    rm -rf "$data_base"/corral-ensemble-[0-9] "$data_base"/zk-ensemble-[0-9]
}

case "$topology" in
standalone) standalone; memory_and_restart ;;
ensemble) ensemble ;;
memory) memory_and_restart ;;
all) standalone; memory_and_restart; ensemble ;;
esac

# --- Report ----------------------------------------------------------------------------------------
python3 scripts/bench-report.py "$results" | tee "$results/summary.md"
echo "results in $results" >&2
