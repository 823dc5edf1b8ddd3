#!/usr/bin/env bash
# schemathesis against a real daemon: the API must behave as its OpenAPI document
# (/api/openapi.json, committed as docs/openapi.json) says. Every check of schemathesis is on
# (its default; schemathesis.toml lists the few operation-specific exceptions): no 5xx,
# statuses, content types, headers and bodies as declared, invalid requests refused, valid
# ones accepted, authentication enforced. A bounded number of examples per operation keeps it
# short enough for CI.
#
# The daemon runs with authentication on and is driven with an administrator's API token.
# An administrator may make the daemon fetch any URL, so the daemon and schemathesis run in a
# network namespace of their own that has only a loopback interface: nothing generated ever
# leaves the machine.
#
# Usage: tests/schemathesis/run.sh
#   SCHEMATHESIS_EXAMPLES  examples per operation (default 25)
#   SCHEMATHESIS_SEED      generation seed (default fixed, for reproducible runs)
#   PYTORRENTD_BIN         daemon binary (default target/debug/pytorrentd, built if missing)
# schemathesis is installed from PyPI (pinned in requirements.txt) into a venv under
# ${XDG_CACHE_HOME:-~/.cache}/pytorrentd; that is the only download, done before the
# namespace is entered.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${PYTORRENTD_BIN:-$root/target/debug/pytorrentd}"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/pytorrentd/schemathesis-venv"

if [ "${PYTORRENTD_IN_NETNS:-}" != 1 ]; then
  for tool in curl ip unshare; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install curl iproute2 util-linux" >&2; exit 1; }
  done
  python3 -m venv --help >/dev/null 2>&1 || { echo "python3 venv missing: apt-get install python3-venv" >&2; exit 1; }
  req="$here/requirements.txt"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/schemathesis" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$want" ]; then
    echo "installing schemathesis into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req"
    echo "$want" >"$venv/.requirements"
  fi
  if [ ! -x "$bin" ]; then
    (cd "$root" && cargo build --locked)
  fi
  ns=(unshare --net)
  [ "$(id -u)" = 0 ] || ns=(unshare --net --map-root-user)
  if ! "${ns[@]}" true 2>/dev/null; then
    echo "cannot create a network namespace with '${ns[*]}': run as root, or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)" >&2
    exit 1
  fi
  exec "${ns[@]}" env PYTORRENTD_IN_NETNS=1 bash "$0" "$@"
fi

# ---- inside the namespace: only loopback exists ----
ip link set lo up
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pytorrentd-schemathesis-XXXXXX")
pid=""
cleanup() {
  rc=$?
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ $rc -ne 0 ] && [ -f "$tmp/daemon.log" ]; then
    echo "--- daemon log (last 40 lines) ---" >&2
    tail -n 40 "$tmp/daemon.log" >&2
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
bt_port=$(free_port)
base="http://127.0.0.1:$port"
mkdir -p "$tmp/downloads"
env -u PYTORRENT_AUTH_ENABLE \
  PYTORRENT_DHT_ENABLE=false PYTORRENT_LSD_ENABLE=false PYTORRENT_UPNP_ENABLE=false \
  PYTORRENT_BT_PORT="$bt_port" PYTORRENT_DOWNLOAD_DIR="$tmp/downloads" PYTORRENT_LOG=info \
  "$bin" serve --host 127.0.0.1 --port "$port" --data-dir "$tmp/data" >"$tmp/daemon.log" 2>&1 &
pid=$!
deadline=$((SECONDS + 30))
until curl -fsS "$base/api/health" >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "pytorrentd did not become ready on $base" >&2
    exit 1
  fi
  sleep 0.2
done

# An administrator's API token: set admin's password through the control socket, log in,
# create the token.
password="st-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$bin" user reset-password admin "$password" --data-dir "$tmp/data" >/dev/null
curl -fsS -c "$tmp/cookies" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" "$base/api/auth/login" >/dev/null
token=$(curl -fsS -b "$tmp/cookies" -H 'content-type: application/json' \
  -d '{"name":"schemathesis"}' "$base/api/tokens" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# One real torrent (its data already in the download directory, added paused) so that the
# operations on /api/torrents/{hash} meet an existing torrent, not only 404s.
hash=$(python3 - "$tmp/downloads" "$tmp/seed.torrent" <<'PY'
import hashlib, os, sys
def enc(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, list): return b"l" + b"".join(map(enc, v)) + b"e"
    return b"d" + b"".join(enc(k) + enc(v[k]) for k in sorted(v)) + b"e"
data = os.urandom(100 * 1024)
open(os.path.join(sys.argv[1], "seed.bin"), "wb").write(data)
pl = 16384
info = {b"length": len(data), b"name": b"seed.bin", b"piece length": pl,
        b"pieces": b"".join(hashlib.sha1(data[i:i + pl]).digest() for i in range(0, len(data), pl))}
open(sys.argv[2], "wb").write(enc({b"info": info}))
print(hashlib.sha1(enc(info)).hexdigest())
PY
)
curl -fsS -H "Authorization: Bearer $token" -F "torrent=@$tmp/seed.torrent" -F paused=true \
  "$base/api/profiles/default/torrents" >/dev/null

set +e
# From the temp dir: schemathesis keeps a cache of its findings in the working directory.
cd "$tmp"
PYTORRENTD_TORRENT_HASH="$hash" PYTORRENTD_API_TOKEN="$token" "$venv/bin/schemathesis" \
  --config-file "$here/schemathesis.toml" \
  run "$base/api/openapi.json" \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" \
  --seed "${SCHEMATHESIS_SEED:-20261203}" \
  --workers 1 \
  --request-timeout 20 \
  --generation-database none \
  --no-color
st=$?
set -e

if ! kill -0 "$pid" 2>/dev/null; then
  echo "pytorrentd died during the run" >&2
  exit 1
fi
if grep -q "panicked" "$tmp/daemon.log"; then
  echo "pytorrentd logged a panic during the run:" >&2
  grep -m5 -A3 "panicked" "$tmp/daemon.log" >&2
  exit 1
fi
exit $st
