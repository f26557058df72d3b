#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit and end-to-end tests, the kazoo smoke
# test, the simulator swarm, and the differential suite against Apache ZooKeeper when installed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Core and sim must stay free of IO, clocks and global randomness.
scripts/check-sans-io.sh
# End-to-end tests spawn this binary.
cargo build --bin corral
cargo test --workspace -- --test-threads=2
# A bounded swarm of the deterministic simulator (each seed picks its own fault mix).
cargo run --release -q -p corral-sim -- --seeds 0..300
# Differential suite against a real Apache ZooKeeper 3.8 when it is installed (CI installs it);
# without it the same suite has already run above against the recorded ZooKeeper answers.
if [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null; then
    scripts/differential.sh
elif [ "${CI:-}" = "true" ]; then
    echo "CI must run the differential suite against ZooKeeper" >&2
    exit 1
fi
if python3 -c 'import kazoo' 2>/dev/null; then
    python3 tests/kazoo/smoke.py
else
    echo "kazoo is not installed (pip install kazoo): skipping the kazoo smoke test" >&2
    [ "${CI:-}" != "true" ] || exit 1
fi
# The benchmark harness must keep working; its times are printed, never judged.
scripts/bench-smoke.sh
