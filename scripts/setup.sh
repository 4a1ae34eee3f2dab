#!/usr/bin/env bash
# Installs everything OnAir needs on a fresh Debian 12 machine, idempotently:
#   - Debian packages (build tools, ffmpeg for the encoder comparison benchmark)
#   - livekit-server v1.13.5 (go install), linked as .tools/bin/livekit-server
#   - stripe-mock v0.203.0 (go install; Stripe's API mock for the payment tests)
#   - LiveKit's SDK library: the pinned livekit==1.2.0 wheel from PyPI, sha256-checked,
#     unpacked into .sdk/livekit-1.2.0 (liblivekit_ffi.so + schema descriptors)
#   - a Python venv (.venv) with the LiveKit Python SDK for the test viewer
#   - the web UI (npm ci; vite builds the studio's window into ui/dist and the viewer page
#     into ui/dist-viewer) and tauri-driver for the studio's tests
# Downloads are cached under $ONAIR_CACHE (default ~/.cache/onair) and reused by every clone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ONAIR_CACHE:-$HOME/.cache/onair}"
LIVEKIT_SERVER_VERSION="v1.13.5"
STRIPE_MOCK_VERSION="v0.203.0"
SDK_VERSION="1.2.0"
SDK_WHEEL="livekit-${SDK_VERSION}-py3-none-manylinux_2_28_x86_64.whl"
SDK_WHEEL_SHA256="9eae2fbf857e0af2516eb03f5285eb5edf0ea0b1aa238268291ccb1a7e11d4d4"
PYTHON="${PYTHON:-python3}"

step() { printf '\n==> %s\n' "$*"; }
mkdir -p "$CACHE/bin" "$CACHE/wheels" "$ROOT/.tools/bin"

# --- Debian packages -------------------------------------------------------------------
APT_PACKAGES=(build-essential pkg-config git curl ca-certificates unzip ffmpeg procps wrk cmake nasm libasound2-dev libasound2-plugins alsa-utils pulseaudio pulseaudio-utils sox libclang-dev
  # The desktop studio (Tauri 2): WebKitGTK, the tray's appindicator, and for its tests a
  # virtual display, WebKit's WebDriver, a session bus and a keyring.
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev xvfb xauth x11-utils imagemagick
  webkit2gtk-driver dbus gnome-keyring libsecret-tools keyutils
  # The viewer page's tests: Debian's Chromium driven by playwright-core (no browser download).
  chromium fonts-dejavu-core
  # Recording (onair-record): GStreamer's headers, x264 / OpenH264, AAC, the MP4 muxer, and
  # gst-inspect-1.0 for a look at what is installed.
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad
  gstreamer1.0-libav gstreamer1.0-tools)
# Node for the UI build: Debian's own unless a newer one (with npm) is already installed.
command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  step "apt: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  step "apt: all packages present"
fi

# --- livekit-server ----------------------------------------------------------------------
server="$CACHE/bin/livekit-server-$LIVEKIT_SERVER_VERSION"
if [ ! -x "$server" ]; then
  step "go: installing livekit-server $LIVEKIT_SERVER_VERSION (about 90 s the first time)"
  command -v go >/dev/null || { echo "error: Go is needed to build livekit-server (apt-get install golang-go, or https://go.dev/dl)"; exit 1; }
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_SERVER_VERSION"
  mv "$tmp/server" "$server"
  rm -rf "$tmp"
else
  step "livekit-server $LIVEKIT_SERVER_VERSION present"
fi
ln -sf "$server" "$ROOT/.tools/bin/livekit-server"

# --- stripe-mock (Stripe's own API mock, for the pay-per-view tests) -----------------------
stripe_mock="$CACHE/bin/stripe-mock-$STRIPE_MOCK_VERSION"
if [ ! -x "$stripe_mock" ]; then
  step "go: installing stripe-mock $STRIPE_MOCK_VERSION (about 40 s the first time)"
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  mv "$tmp/stripe-mock" "$stripe_mock"
  rm -rf "$tmp"
else
  step "stripe-mock $STRIPE_MOCK_VERSION present"
fi
ln -sf "$stripe_mock" "$ROOT/.tools/bin/stripe-mock"

# --- LiveKit SDK library (pinned wheel) ----------------------------------------------------
sdk_dir="$ROOT/.sdk/livekit-$SDK_VERSION"
if [ "$(cat "$sdk_dir/.wheel-sha256" 2>/dev/null)" != "$SDK_WHEEL_SHA256" ]; then
  wheel="$CACHE/wheels/$SDK_WHEEL"
  if [ ! -f "$wheel" ] || [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$SDK_WHEEL_SHA256" ]; then
    step "pip: downloading livekit==$SDK_VERSION"
    rm -f "$wheel"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --python-version 3.11 \
      "livekit==$SDK_VERSION" -d "$CACHE/wheels"
  fi
  actual="$(sha256sum "$wheel" | cut -d' ' -f1)"
  if [ "$actual" != "$SDK_WHEEL_SHA256" ]; then
    echo "error: $SDK_WHEEL has sha256 $actual, expected $SDK_WHEEL_SHA256; refusing to use it"
    exit 1
  fi
  step "unpacking the SDK library and schema into .sdk/livekit-$SDK_VERSION"
  tmp="$(mktemp -d)"
  unzip -q "$wheel" 'livekit/rtc/resources/*' 'livekit/rtc/_proto/*' -d "$tmp"
  rm -rf "$sdk_dir"
  mkdir -p "$sdk_dir"
  cp "$tmp/livekit/rtc/resources/liblivekit_ffi.so" "$tmp/livekit/rtc/resources/livekit_ffi.h" \
     "$tmp/livekit/rtc/resources/LICENSE.md" "$sdk_dir/"
  "$PYTHON" "$ROOT/scripts/sdk_descriptors.py" "$tmp/livekit/rtc/_proto" "$sdk_dir/livekit_ffi.fds"
  rm -rf "$tmp"
  echo "$SDK_WHEEL_SHA256" > "$sdk_dir/.wheel-sha256"
else
  step "SDK library livekit==$SDK_VERSION present (sha256 checked)"
fi

# --- Python viewer venv --------------------------------------------------------------------
req="$ROOT/tests/viewer/requirements.txt"
req_hash="$(cat "$req" | sha256sum | cut -c1-12)"
venv="$CACHE/venv-$req_hash"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  step "python: creating the viewer venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet --find-links "$CACHE/wheels" -r "$req"
  touch "$venv/.complete"
else
  step "python viewer venv present"
fi
ln -sfn "$venv" "$ROOT/.venv"

# --- tauri-driver (WebDriver for the desktop tests) ------------------------------------------
TAURI_DRIVER_VERSION="2.1.0"
# (tauri-driver has no --version: cargo's install list says which one is there.)
if ! cargo install --list 2>/dev/null | grep -qx "tauri-driver v$TAURI_DRIVER_VERSION:"; then
  step "cargo: installing tauri-driver $TAURI_DRIVER_VERSION"
  cargo install --quiet tauri-driver --version "=$TAURI_DRIVER_VERSION" --locked
else
  step "tauri-driver $TAURI_DRIVER_VERSION present"
fi

# --- the studio's web UI -----------------------------------------------------------------------
ui="$ROOT/ui"
lock_hash="$(sha256sum "$ui/package-lock.json" | cut -c1-12)"
if [ "$(cat "$ui/node_modules/.onair-lock" 2>/dev/null)" != "$lock_hash" ]; then
  step "npm: installing the UI's packages"
  (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" > "$ui/node_modules/.onair-lock"
else
  step "UI packages present"
fi
step "building the UI (the studio into ui/dist, the viewer page into ui/dist-viewer)"
(cd "$ui" && npm run --silent build >/dev/null)

step "setup complete"
