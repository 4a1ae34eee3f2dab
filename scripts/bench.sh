#!/usr/bin/env bash
# Prints OnAir's figures: go-live, glass-to-glass, CPU/RSS and close (about 6 minutes), then
# the backend's webhook→SSE latency, token requests per second and memory with 10,000 idle
# event-stream subscribers (about 30 s).
# ONAIR_BENCH_RUNS (default 20) and ONAIR_BENCH_SECS (default 30) shorten or lengthen the
# first part; `bash scripts/bench.sh backend` runs only the backend's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh >/dev/null
if [ "${1:-}" != backend ]; then
  cargo build --release -p onair-cli
  cargo bench --bench golive
fi
cargo bench -p onair-server --bench backend
