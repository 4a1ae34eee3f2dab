#!/usr/bin/env bash
# Prints OnAir's figures: go-live, glass-to-glass, CPU/RSS and close (about 6 minutes); the
# backend's webhook→SSE latency, token requests per second and memory with 10,000 idle
# event-stream subscribers (about 30 s); camera-format conversion costs and microphone
# figures (about 20 s).
# ONAIR_BENCH_RUNS (default 20) and ONAIR_BENCH_SECS (default 30) shorten or lengthen the
# first part; `bash scripts/bench.sh backend|capture|recording|session|studio|viewer` runs only that
# part (session: 100 go-live/end cycles, about 90 s; studio: the desktop app's memory and
# CPU, about a minute after its release build; viewer: the viewer page's time to first
# frame in Chromium and its bytes, about 30 s; recording: its CPU, memory and file size on
# top of streaming, about 2 minutes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh >/dev/null
part="${1:-all}"
if [ "$part" = all ]; then
  cargo build --release -p onair-cli
  cargo bench --bench golive
fi
if [ "$part" = all ] || [ "$part" = backend ]; then
  cargo bench -p onair-server --bench backend
fi
if [ "$part" = all ] || [ "$part" = capture ]; then
  cargo bench -p onair-capture --bench convert
  ONAIR_BENCH_SECS=10 cargo bench --bench audio
fi
if [ "$part" = all ] || [ "$part" = studio ]; then
  # The app exactly as packaged (release, assets inside, SDK library from its bundle).
  bash scripts/package.sh
  bash scripts/with-desktop.sh cargo bench --bench studio
fi
if [ "$part" = all ] || [ "$part" = viewer ]; then
  cargo build --release -p onair-cli
  cargo bench --bench viewer_page
fi
if [ "$part" = all ] || [ "$part" = recording ]; then
  cargo build --release -p onair-cli
  cargo bench --bench recording
fi
if [ "$part" = all ] || [ "$part" = session ]; then
  cargo build --release -p onair-server -p onair-cli
  cargo bench --bench session
fi
