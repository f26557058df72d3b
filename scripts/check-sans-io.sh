#!/usr/bin/env bash
# Fails when core/ reaches for IO, clocks, threads or global randomness.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(tokio|std::net|std::fs|std::thread|std::time|Instant::now|SystemTime::now|thread_rng|rand::rng\(|HashMap|HashSet)\b'
if grep -rnE "$pattern" core/src | grep -vE '^\S+:\s*//'; then
    echo "core/ must stay sans-IO and deterministic (see docs/architecture.md)" >&2
    exit 1
fi
echo "core/ is sans-IO"
