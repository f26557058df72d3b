#!/usr/bin/env bash
# Instructions per committed transaction of a release `corral`, counted by valgrind's callgrind.
#
#   scripts/instructions-per-txn.sh [--workload set|multi|create|...] [--binary PATH] [--keep]
#
# Timing on a shared 2-core machine drifts by 15% from one run to the next; an instruction count
# does not. This runs the server under callgrind, drives it with corral-bench (16 sessions x 8 in
# flight, 2,000 keys, 5 s), and divides the instructions of the whole process, and of its main
# thread (the node and every connection), by the number of committed transactions (calls of
# `Node::commit`). Compare two builds with it before and after a change to the write path; it
# says nothing about cache misses or system calls, so confirm large changes with a timed run.
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/zoo-cfg.sh

workload=set
binary=""
keep=no
while [ $# -gt 0 ]; do
    case "$1" in
    --workload) workload="$2"; shift ;;
    --binary) binary="$2"; shift ;;
    --keep) keep=yes ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }

cargo build --release --bin corral --bin corral-bench >&2
target_dir="$(cargo_target_dir)"
[ -n "$binary" ] || binary="$target_dir/release/corral"
bench="$target_dir/release/corral-bench"

work="$(mktemp -d "${TMPDIR:-/tmp}/corral-callgrind.XXXXXX")"
port="$(free_port)"
write_zoo_cfg "$work/zoo.cfg" "$work/data" "$port" snapCount=100000
RUST_LOG=warn valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
    --callgrind-out-file="$work/callgrind.out" \
    "$binary" --config "$work/zoo.cfg" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
"$bench" --server "127.0.0.1:$port" first-read --timeout-s 60 >/dev/null
# A warm-up outside the count, then the counted run.
"$bench" --server "127.0.0.1:$port" run --workload "$workload" --clients 16 --in-flight 8 \
    --keys 2000 --duration-s 1 --warmup-s 1 --quiet >/dev/null
callgrind_control -i on "$server" >/dev/null
"$bench" --server "127.0.0.1:$port" run --workload "$workload" --clients 16 --in-flight 8 \
    --keys 2000 --duration-s 5 --warmup-s 0 --quiet >/dev/null
callgrind_control -i off "$server" >/dev/null
kill "$server"
wait "$server" 2>/dev/null || true
trap - EXIT

# One file per thread: -01 is the main thread (node and connections), the others the log and
# snapshot threads.
main="$(ls "$work"/callgrind.out*-01 | head -n 1)"
total="$(cat "$work"/callgrind.out* | awk '/^totals:/ {s += $2} END {print s}')"
node="$(awk '/^totals:/ {print $2}' "$main")"
# The calls of `commit` are the call counts on its caller lines: the `<` lines of the block that
# ends with its `*` line. Blocks are separated by blank lines; lines of the block before it
# (another function's callers) must not be counted, whichever order the blocks come in. awk
# reads to the end: exiting early would fail the pipeline (SIGPIPE) under pipefail.
commits="$(callgrind_annotate --tree=caller --inclusive=yes "$main" 2>/dev/null | awk '
    /^ *$/ { calls = 0; next }
    /\*  .*node::commit::<impl corral_core::node::Node>::commit \[/ && !found {
        print calls; found = 1
    }
    / < / && match($0, /\([0-9,]+x\)/) {
        n = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", n); calls += n
    }')"
if [ -z "$commits" ] || [ "$commits" -eq 0 ]; then
    echo "no commits counted (is $binary a release build with symbols?)" >&2
    exit 1
fi
echo "workload=$workload binary=$binary commits=$commits" \
    "instructions_per_txn=$((total / commits)) main_thread_per_txn=$((node / commits))"
if [ "$keep" = yes ]; then
    echo "callgrind output: $work (callgrind_annotate --inclusive=yes $main)" >&2
else
    rm -rf "$work"
fi
