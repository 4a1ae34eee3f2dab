#!/usr/bin/env bash
# Runs OnAir locally: a livekit-server on loopback, then `onair live` publishing the test
# pattern and a 440 Hz tone until Ctrl-C. Prints the command that watches the stream.
# LIVEKIT_PORT (default 7880; it also uses the next two ports) and ONAIR_ROOM (default
# onair-demo) change the defaults; extra arguments go to `onair live` (e.g. --codec h264).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT="${LIVEKIT_PORT:-7880}"
ROOM="${ONAIR_ROOM:-onair-demo}"

bash scripts/setup.sh
printf '\n==> building the onair CLI\n'
cargo build -p onair-cli
ONAIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/onair"

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "error: port $PORT is taken (another livekit-server?). Stop it, or run with LIVEKIT_PORT=<free port>." >&2
  exit 1
fi

# A fresh key pair per run, known only to this script and the commands it prints.
STATE="$(mktemp -d)"
API_KEY="onair-local"
API_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat > "$STATE/livekit.yaml" <<YAML
port: $PORT
bind_addresses: ["127.0.0.1"]
rtc: { tcp_port: $((PORT + 1)), udp_port: $((PORT + 2)), use_external_ip: false, enable_loopback_candidate: true }
keys: { $API_KEY: $API_SECRET }
logging: { level: warn }
YAML

printf '\n==> starting livekit-server v1.13.5 on 127.0.0.1:%s (log: %s/server.log)\n' "$PORT" "$STATE"
.tools/bin/livekit-server --config "$STATE/livekit.yaml" >"$STATE/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT

# Ready when GET / answers OK; curl retries refused connections for up to 20 s.
if ! curl -fsS --retry 40 --retry-connrefused --retry-delay 1 --retry-max-time 20 \
     "http://127.0.0.1:$PORT/" 2>/dev/null | grep -q OK; then
  echo "error: livekit-server did not start within 20 s; its log:" >&2
  cat "$STATE/server.log" >&2
  exit 1
fi

cat <<MSG

==> live: watch from another terminal with
    $ONAIR watch --url ws://127.0.0.1:$PORT --api-key $API_KEY --api-secret $API_SECRET --room $ROOM
    (Ctrl-C here ends the stream and stops the server)

MSG
set +e
"$ONAIR" live --url "ws://127.0.0.1:$PORT" --api-key "$API_KEY" --api-secret "$API_SECRET" \
  --room "$ROOM" --identity creator "$@"
code=$?
exit "$code"
