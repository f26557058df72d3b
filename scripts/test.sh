#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit and end-to-end tests, the kazoo smoke
# test, and (when ZK_REFERENCE is set) the differential suite against Apache ZooKeeper.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Core and sim must stay free of IO, clocks and global randomness.
scripts/check-sans-io.sh
# End-to-end tests spawn this binary.
cargo build --bin corral
cargo test --workspace -- --test-threads=2
if python3 -c 'import kazoo' 2>/dev/null; then
    python3 tests/kazoo/smoke.py
else
    echo "kazoo is not installed (pip install kazoo): skipping the kazoo smoke test" >&2
    [ "${CI:-}" != "true" ] || exit 1
fi
# The benchmark harness must keep working; its times are printed, never judged.
scripts/bench-smoke.sh
