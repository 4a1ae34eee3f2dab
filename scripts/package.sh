#!/usr/bin/env bash
# Builds the studio's Debian package offline with Tauri's CLI (from npm): the app, its icons,
# and LiveKit's SDK library as a bundled resource (/usr/lib/OnAir/liblivekit_ffi.so).
#   bash scripts/package.sh            release build → <target>/release/bundle/deb/OnAir_*.deb
#   bash scripts/package.sh --debug    debug build (quicker; what the test script checks)
#   add --check to then install it with apt, run the installed binary's self-check (it must
#   find the bundled SDK library, not the build tree's), go live with it (the studio's go-live
#   test, driving /usr/bin/onair-studio), and remove it again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE=release
CHECK=""
for arg in "$@"; do
  case "$arg" in
    --debug) PROFILE=debug ;;
    --check) CHECK=1 ;;
    *) echo "usage: $0 [--debug] [--check]" >&2; exit 2 ;;
  esac
done
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

printf '\n==> building the UI\n'
(cd ui && npm run --silent build >/dev/null)
printf '\n==> tauri build --bundles deb (%s)\n' "$PROFILE"
# The packaged binary must never fall back to this machine's copy of the SDK library.
export ONAIR_NO_BUILD_LIB=1
args=(build --ci --bundles deb)
[ "$PROFILE" = debug ] && args+=(--debug)
(cd src-tauri && "$ROOT/ui/node_modules/.bin/tauri" "${args[@]}")
DEB="$(ls -t "$TARGET/$PROFILE/bundle/deb/"*.deb | head -1)"
echo "package: $DEB ($(du -h "$DEB" | cut -f1))"
dpkg-deb --contents "$DEB" | grep -E ' (\./)?usr/lib/OnAir/liblivekit_ffi\.so$' >/dev/null \
  || { echo "error: the package does not carry liblivekit_ffi.so" >&2; exit 1; }

[ -n "$CHECK" ] || exit 0
printf '\n==> installing it with apt and running the installed binary\n'
NAME="$(dpkg-deb --field "$DEB" Package)"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
cleanup() { $SUDO apt-get remove -y -qq "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" >/dev/null
BIN="$(dpkg -L "$NAME" | grep '/usr/bin/' | head -1)"
# From a directory with no SDK library in it, with no override: only the bundle can answer.
ANSWER="$(cd / && env -u ONAIR_LIVEKIT_LIB xvfb-run -a "$BIN" --self-check 2>/dev/null | tail -1)"
echo "self-check: $ANSWER"
case "$ANSWER" in
  *'"sdk_library":"/usr/lib/OnAir/liblivekit_ffi.so"'*) echo "ok: $BIN found the bundled SDK library" ;;
  *) echo "error: the installed app did not load the bundled SDK library" >&2; exit 1 ;;
esac
printf '\n==> going live with the installed app (tests/studio.rs go_live, on %s)\n' "$BIN"
# The test harness is built as the suite built it: with ONAIR_NO_BUILD_LIB set, cargo would
# rebuild the engine and everything above it in debug just for this one test.
bash scripts/with-desktop.sh env -u ONAIR_NO_BUILD_LIB ONAIR_STUDIO_BIN="$BIN" \
  cargo test --quiet --test studio go_live -- --test-threads=1
