#!/usr/bin/env bash
# One command: build Plinto and the harness (release), install the peer, run the comparison.
# Arguments go to plinto-bench (see `bench/run.sh --help`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release --locked -p plinto -p plinto-bench --bins
if [ ! -d bench/peer/node_modules ]; then
  (cd bench/peer && npm ci --no-audit --no-fund --loglevel=error)
fi
# The load generator on CPU 1; plinto-bench pins the servers to CPU 0.
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  exec taskset -c 1 target/release/plinto-bench "$@"
fi
exec target/release/plinto-bench "$@"
