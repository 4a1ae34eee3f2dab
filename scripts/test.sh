#!/usr/bin/env bash
# Runs every test against real components: the pinned livekit-server, the LiveKit Python SDK
# viewer, our `onair` CLI and engine, the desktop studio under WebDriver. Installs what is
# missing first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
printf '\n==> unit tests of the web UI (vitest)\n'
npm --prefix ui test --silent
printf '\n==> building the onair CLI, backend and studio (end-to-end tests run them as processes)\n'
cargo build -p onair-cli -p onair-server -p onair-studio
printf '\n==> cargo test (one test at a time per file: each starts its own server and encodes 720p)\n'
# Under a virtual display, a private session bus and keyring: the studio's tests need them.
# --no-fail-fast: every test binary runs and every failing one is listed at the end (the exit
# status is still non-zero on any failure).
bash scripts/with-desktop.sh cargo test --workspace --no-fail-fast -- --test-threads=1
printf '\n==> the .deb: build, install with apt, start and go live with the installed app, remove\n'
bash scripts/package.sh --check
