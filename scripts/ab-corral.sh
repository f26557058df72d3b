#!/usr/bin/env bash
# Corral against Corral: alternates two or more builds (or configurations) on one workload, a fresh
# data directory per run, and prints one line per run. How a change is judged before a
# side-by-side run with ZooKeeper: consecutive runs of one binary differ by ±30% in p99 on the
# project's machine, so only alternating rounds (A B A B ..., 3 at least) say anything.
#
#   scripts/ab-corral.sh [--rounds N] [--workload W] [--bench-args "..."] LABEL=BINARY[:CFG;CFG] ...
#
#   LABEL=BINARY           a corral binary with the default zoo.cfg (snapCount=100000)
#   LABEL=BINARY:K=V;K=V   the same with extra zoo.cfg lines, e.g. base=target/release/corral:preAllocSize=0
#   --bench-args           passed to `corral-bench run` (default: 16 clients x 8 in flight, 5 s + 2 s)
#
# Prints: label, ops/s, p50, p99, p99.9 and max in ms. Measure only on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/zoo-cfg.sh

rounds=3
workload=set
bench_args="--clients 16 --in-flight 8 --duration-s 5 --warmup-s 2"
variants=()
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift ;;
    --workload) workload="$2"; shift ;;
    --bench-args) bench_args="$2"; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *=*) variants+=("$1") ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
[ "${#variants[@]}" -ge 2 ] || { echo "give two variants at least (LABEL=BINARY)" >&2; exit 2; }

cargo build --release --bin corral-bench
target_dir="$(cargo_target_dir)"
bench="$target_dir/release/corral-bench"

work="$(mktemp -d)"
pid=""
cleanup() {
    stop_server "$pid"
    rm -rf "$work"
}
trap cleanup EXIT

port="$(free_port)"
for round in $(seq 1 "$rounds"); do
    for variant in "${variants[@]}"; do
        label="${variant%%=*}"
        spec="${variant#*=}"
        binary="${spec%%:*}"
        extra=()
        if [ "$spec" != "$binary" ]; then
            IFS=';' read -r -a extra <<<"${spec#*:}"
        fi
        rm -rf "$work/data"
        mkdir -p "$work/data"
        write_zoo_cfg "$work/zoo.cfg" "$work/data" "$port" "snapCount=100000" "${extra[@]}"
        RUST_LOG=warn "$binary" --config "$work/zoo.cfg" >"$work/corral.log" 2>&1 &
        pid=$!
        "$bench" --server "127.0.0.1:$port" first-read --timeout-s 30 >/dev/null
        # shellcheck disable=SC2086 # bench_args splits into arguments
        line="$("$bench" --server "127.0.0.1:$port" run --workload "$workload" $bench_args \
            --quiet | sed -n 2p)"
        echo "round $round $label: $(echo "$line" | awk '{print $7 " ops/s, p50 " $8 ", p99 " $9 ", p99.9 " $10 ", max " $11 " ms"}')"
        stop_server "$pid"
        pid=""
    done
done
