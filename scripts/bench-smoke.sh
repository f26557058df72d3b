#!/usr/bin/env bash
# Smoke run of the benchmark harness, so that it cannot rot: builds corral and corral-bench, starts
# corral on a free loopback port with a temporary dataDir, runs every workload for about a second
# with 2 clients (and three of them again at a fixed rate), and checks that each run's final JSON
# line parses and counts operations.
# Times are printed, never compared with a threshold: CI machines are too noisy for that.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/zoo-cfg.sh

cargo build --bin corral --bin corral-bench
target_dir="$(cargo_target_dir)"
bin="$target_dir/debug"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    stop_server "$server_pid"
    rm -rf "$work"
}
trap cleanup EXIT

port="$(free_port)"
mkdir -p "$work/data"
write_zoo_cfg "$work/zoo.cfg" "$work/data" "$port"
"$bin/corral" --config "$work/zoo.cfg" >"$work/corral.log" 2>&1 &
server_pid=$!
bench=("$bin/corral-bench" --server "127.0.0.1:$port")
if ! "${bench[@]}" first-read --timeout-s 60 >/dev/null; then
    cat "$work/corral.log" >&2
    exit 1
fi

# check_run OUT [RATE]: the run's JSON line parses, counts operations and no errors (churn its
# steps, fan-out its first notification); with RATE, it records that rate and achieved at least
# half of it (a fixed-rate run that stalled fails).
check_run() {
    head -n -1 "$1"
    tail -n 1 "$1" | python3 -c '
import json, sys
line = json.loads(sys.stdin.read())
name, ops, errors = line["workload"], line["ops"], line["errors"]
assert ops > 0, f"{name}: no operations completed"
assert errors == 0, f"{name}: {errors} errors"
if name == "ephemeral-churn":
    # Each step of a cycle is timed too, and every step is a part of its cycle, so no median
    # of a step can pass the median of the cycles (1% for the rounding of the histograms).
    for step in ("connect", "create", "close"):
        p50 = line["extra"][f"{step}_p50_ms"]
        assert 0 < p50 <= line["latency_us"]["p50"] / 1e3 * 1.01, f"{name}: {step} p50 {p50} ms"
if name == "watch-fanout":
    # A round ends with its last notification, so its first cannot come later (1% for the
    # rounding of the histograms).
    first = line["extra"]["first_notification_p50_ms"]
    assert 0 < first <= line["latency_us"]["p50"] / 1e3 * 1.01, f"{name}: first {first} ms"
if len(sys.argv) > 1:
    asked, recorded, achieved = float(sys.argv[1]), line["rate"], line["ops_per_s"]
    assert recorded == asked, f"{name}: rate {recorded} recorded, {asked} asked"
    assert achieved >= asked / 2, f"{name}: {achieved}/s of {asked}/s"
' "${@:2}"
}

for workload in create set get mixed multi ephemeral-churn watch-fanout; do
    out="$work/$workload.out"
    "${bench[@]}" run --workload "$workload" --clients 2 --in-flight 2 --duration-s 1 \
        --warmup-s 0.2 --keys 100 --quiet >"$out"
    check_run "$out"
done
# The fixed-rate mode of the same-load comparison, once per kind of worker.
for workload in set ephemeral-churn watch-fanout; do
    out="$work/$workload-rate.out"
    "${bench[@]}" run --workload "$workload" --clients 2 --in-flight 2 --duration-s 1 \
        --warmup-s 0.2 --keys 100 --rate 50 --quiet >"$out"
    check_run "$out" 50
done
# Nothing may be left behind: the run removes its keys.
left="$("${bench[@]}" first-read --path /corral-bench --timeout-s 0 2>&1 || true)"
case "$left" in
*first_read_ms*) echo "a run left /corral-bench behind" >&2; exit 1 ;;
esac
echo "bench smoke: every workload ran"
