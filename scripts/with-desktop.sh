#!/usr/bin/env bash
# Runs a command with what the desktop studio needs when no desktop is there: a virtual X
# display (Xvfb), a private session bus, and an unlocked GNOME Keyring on that bus (the Secret
# Service the studio keeps API keys in), whose files live in a throwaway directory.
#   bash scripts/with-desktop.sh cargo test --test studio
set -euo pipefail
if [ "${1:-}" != "--inner" ]; then
  exec xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash "$0" --inner "$@"
fi
shift
XDG_DATA_HOME="$(mktemp -d)"
export XDG_DATA_HOME
trap 'rm -rf "$XDG_DATA_HOME"' EXIT
printf %s onair-test | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
"$@"
