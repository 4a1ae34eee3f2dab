#!/usr/bin/env bash
# Runs OnAir locally: a livekit-server on loopback with its webhooks pointed at the OnAir
# backend (SQLite in .onair/, a development streamer "dev"), then, with a display, the OnAir
# studio signed in as "dev" (its key goes to the OS keyring); without one (or with
# ONAIR_HEADLESS=1), `onair live --backend` publishing the test pattern and a 440 Hz tone
# through the backend (token, live viewer count, teardown report), until Ctrl-C. Prints how
# to watch and follow the count.
# LIVEKIT_PORT (default 7880; it also uses the next two ports) and ONAIR_PORT (backend,
# default 8080) change the ports; extra arguments go to `onair live` (e.g. --codec h264).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT="${LIVEKIT_PORT:-7880}"
BACKEND_PORT="${ONAIR_PORT:-8080}"
STREAMER="dev"
DATA="$ROOT/.onair"

bash scripts/setup.sh
STUDIO=""
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${ONAIR_HEADLESS:-}" ]; then
  STUDIO=1
fi
printf '\n==> building the onair CLI, the backend%s\n' "${STUDIO:+ and the studio}"
cargo build -p onair-cli -p onair-server ${STUDIO:+-p onair-studio}
BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug"
ONAIR="$BIN/onair"

for p in "$PORT" "$BACKEND_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "error: port $p is taken (another OnAir run?). Stop it, or set LIVEKIT_PORT / ONAIR_PORT to free ports." >&2
    exit 1
  fi
done

# The backend's data survives runs: its database, the secret its API keys are hashed with,
# and (development only) the dev streamer's key, readable by this user alone.
mkdir -p "$DATA" && chmod 700 "$DATA"
[ -s "$DATA/key-secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DATA/key-secret"
export ONAIR_DATABASE_URL="sqlite://$DATA/onair.db"
export ONAIR_REPLAY_DIR="$DATA/replays"
export ONAIR_KEY_SECRET="$(cat "$DATA/key-secret")"
if [ ! -s "$DATA/dev-streamer-key" ]; then
  "$BIN/onair-server" streamer add "$STREAMER" > "$DATA/dev-streamer-key"
  chmod 600 "$DATA/dev-streamer-key"
fi
STREAMER_KEY="$(cat "$DATA/dev-streamer-key")"

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
webhook: { api_key: $API_KEY, urls: ["http://127.0.0.1:$BACKEND_PORT/api/livekit/webhook"] }
YAML

printf '\n==> starting livekit-server v1.13.5 on 127.0.0.1:%s (log: %s/server.log)\n' "$PORT" "$STATE"
.tools/bin/livekit-server --config "$STATE/livekit.yaml" >"$STATE/server.log" 2>&1 &
SERVER=$!
BACKEND=""
cleanup() {
  if [ -n "$BACKEND" ]; then
    # Close the stream record even if the creator's leave webhook is still in flight.
    curl -fsS -X POST -H "Authorization: Bearer $STREAMER_KEY" \
      "http://127.0.0.1:$BACKEND_PORT/api/streams/end" >/dev/null 2>&1 || true
    kill "$BACKEND" 2>/dev/null || true
    wait "$BACKEND" 2>/dev/null || true
  fi
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

printf '\n==> starting the OnAir backend on 127.0.0.1:%s (log: %s/backend.log)\n' "$BACKEND_PORT" "$STATE"
LIVEKIT_URL="ws://127.0.0.1:$PORT" LIVEKIT_API_KEY="$API_KEY" LIVEKIT_API_SECRET="$API_SECRET" \
  ONAIR_WEB_DIR="$PWD/ui/dist-viewer" ONAIR_PAYMENTS=development "$BIN/onair-server" serve --bind "127.0.0.1:$BACKEND_PORT" >"$STATE/backend.log" 2>&1 &
BACKEND=$!
API="http://127.0.0.1:$BACKEND_PORT/api"
if ! curl -fsS --retry 40 --retry-connrefused --retry-delay 1 --retry-max-time 20 \
     "$API/health" >/dev/null 2>&1; then
  echo "error: the backend did not start within 20 s; its log:" >&2
  cat "$STATE/backend.log" >&2
  exit 1
fi

URL="ws://127.0.0.1:$PORT"
cat <<MSG

==> streamer "$STREAMER" (its API key: $STREAMER_KEY)
    watch in a browser:        http://127.0.0.1:$BACKEND_PORT/live/$STREAMER
    or from another terminal (a viewer token from the backend):
      $ONAIR watch --url $URL --token "\$(curl -fsS -X POST $API/streams/$STREAMER/viewer-token | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
    follow the viewer count:   curl -N $API/streams/$STREAMER/viewers/events
    past streams:              curl $API/streams/$STREAMER/history
    pay-per-view: pass --ppv-price 4.99 (or set a price in the studio); tickets are paid
      at once here (development payments, no money moves); earnings:
      curl -H "Authorization: Bearer $STREAMER_KEY" $API/streams/$STREAMER/earnings
    Ctrl-C here (or Quit in the studio) ends the stream and stops both servers.

MSG
set +e
if [ -n "$STUDIO" ]; then
  printf '==> starting the OnAir studio (tray + window), signed in as "%s"; Quit it to stop everything\n' "$STREAMER"
  ONAIR_BACKEND_URL="http://127.0.0.1:$BACKEND_PORT" ONAIR_API_KEY="$STREAMER_KEY" "$BIN/onair-studio"
  exit $?
fi
# The studio's path: a token from the backend, the viewer count it pushes, and the
# session's teardown report at the end.
ONAIR_API_KEY="$STREAMER_KEY" "$ONAIR" live --backend "http://127.0.0.1:$BACKEND_PORT" \
  --title "OnAir local test stream" "$@"
code=$?
exit "$code"
