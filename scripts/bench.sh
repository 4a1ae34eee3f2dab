#!/usr/bin/env bash
# Prints OnAir's go-live, glass-to-glass, CPU/RSS and close figures (about 6 minutes).
# ONAIR_BENCH_RUNS (default 20) and ONAIR_BENCH_SECS (default 30) shorten or lengthen it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh >/dev/null
cargo build --release -p onair-cli
cargo bench --bench golive
