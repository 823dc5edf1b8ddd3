#!/usr/bin/env bash
# Records which of pytorrentd's functions a running daemon executes, into
# packaging/layout/hot-functions.txt (read by packaging/layout/cc-hot-first at link time;
# packaging/layout/README.md says why). Run it after changes that move much code around, or
# when BENCHMARKS.md's memory figure grows; commit the list it writes.
#
#   apt-get install -y valgrind mktorrent curl python3 aria2
#   cargo build --release
#   packaging/layout/record.sh            # ~2 minutes
#
# The daemon runs under valgrind's callgrind on loopback with a fresh data directory
# (DHT, LSD and UPnP off) through what a NAS daemon does most: start with local logins, a
# login, 300 paused torrents added over the API, one 16 MiB torrent downloaded from an aria2c
# seeder and then seeded, the lists and pages the web UI asks for, idle ticks; then a restart
# with those torrents stored, and the same again with authentication off (the benchmark's
# setting). Every process is stopped by PID.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${PYTORRENTD_BIN:-$ROOT/target/release/pytorrentd}
OUT=${OUT:-$HERE/hot-functions.txt}
N=${N:-300}
for tool in valgrind callgrind_control mktorrent curl python3 nm aria2c; do
    command -v "$tool" >/dev/null || {
        echo "missing: $tool (apt-get install -y valgrind mktorrent curl python3 binutils aria2)" >&2
        exit 2
    }
done
[[ -x "$BIN" ]] || { echo "missing $BIN (cargo build --release)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/ptd-layout.XXXXXX)
PID='' SEEDER=''
cleanup() {
    [[ -n "$PID" ]] && kill -9 "$PID" 2>/dev/null || true
    if [[ -n "$SEEDER" ]]; then
        kill -9 "$SEEDER" 2>/dev/null
        wait "$SEEDER" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { echo "[$(date +%T)] $*" >&2; }

mkdir -p "$WORK/src" "$WORK/torrents"
for ((i = 1; i <= N; i++)); do
    head -c 65536 /dev/urandom >"$WORK/src/t$i.bin"
    mktorrent -l 15 -a http://127.0.0.1:1/announce -o "$WORK/torrents/t$i.torrent" "$WORK/src/t$i.bin" >/dev/null
done

# The torrent to download, seeded by aria2c on loopback (PEERS.md's flags, no DHT/LSD/PEX).
mkdir -p "$WORK/seed"
head -c $((16 << 20)) /dev/urandom >"$WORK/seed/transfer.bin"
mktorrent -l 18 -a http://127.0.0.1:1/announce -o "$WORK/transfer.torrent" "$WORK/seed/transfer.bin" >/dev/null
SEED_PORT=$(free_port)
aria2c --no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false \
    --enable-peer-exchange=false --disable-ipv6=true --interface=127.0.0.1 \
    --listen-port="$SEED_PORT" --bt-require-crypto=false --bt-min-crypto-level=plain \
    --dir="$WORK/seed" --seed-ratio=0.0 --bt-seed-unverified=true -q \
    "$WORK/transfer.torrent" >"$WORK/seeder.log" 2>&1 &
SEEDER=$!

# run NAME AUTH: one traced daemon on $WORK/data-AUTH, its callgrind output in $WORK/NAME.cg
run() {
    local name=$1 auth=$2 port bt i
    port=$(free_port); bt=$(free_port)
    # The allocator settings `serve` would otherwise re-execute itself for (the re-executed
    # process would not be traced).
    env MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 \
        PYTORRENT_AUTH_ENABLE="$auth" PYTORRENT_DHT_ENABLE=false PYTORRENT_LSD_ENABLE=false \
        PYTORRENT_UPNP_ENABLE=false PYTORRENT_BT_PORT="$bt" PYTORRENT_LOG=warn \
        PYTORRENT_DOWNLOAD_DIR="$WORK/out-$auth" \
        valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/$name.cg" \
        "$BIN" serve --host 127.0.0.1 --port "$port" --data-dir "$WORK/data-$auth" \
        >"$WORK/$name.log" 2>&1 &
    PID=$!
    for ((i = 0; i < 600; i++)); do
        curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break
        sleep 0.5
    done
    local base="http://127.0.0.1:$port" c=(-sf -b "$WORK/jar" -c "$WORK/jar")
    if [[ "$auth" == true ]]; then
        curl "${c[@]}" "$base/api/auth/login" -H 'content-type: application/json' \
            -d '{"username":"recorder","password":"layout-recording-pw"}' >/dev/null
    fi
    if [[ "$name" == add-* ]]; then
        local files=("$WORK"/torrents/*.torrent) j args
        for ((i = 0; i < ${#files[@]}; i += 50)); do
            args=()
            for ((j = i; j < i + 50 && j < ${#files[@]}; j++)); do args+=(-F "torrent=@${files[j]}"); done
            curl "${c[@]}" "$base/api/profiles/default/torrents" -F paused=true "${args[@]}" >/dev/null
        done
        curl "${c[@]}" "$base/api/profiles/default/torrents" -F "peers=127.0.0.1:$SEED_PORT" \
            -F "torrent=@$WORK/transfer.torrent" >/dev/null
        local state=''
        for ((i = 0; i < 600; i++)); do
            state=$(curl "${c[@]}" "$base/api/profiles/default/torrents" | python3 -c '
import json, sys
print(" ".join(r["state"] for r in json.load(sys.stdin) if r["name"] == "transfer.bin"))') || true
            [[ "$state" == seeding ]] && break
            sleep 0.5
        done
        [[ "$state" == seeding ]] || { echo "the traced daemon did not complete the download (state: $state)" >&2; exit 1; }
    fi
    for p in / /api/me /api/profiles /api/profiles/default/torrents /api/stats \
        /api/notices /api/profiles/default/labels; do
        curl "${c[@]}" -o /dev/null "$base$p" || true
    done
    local listed
    listed=$(curl "${c[@]}" "$base/api/profiles/default/torrents" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)))') || listed=0
    if [[ "$listed" != "$((N + 1))" ]]; then
        echo "the traced daemon lists $listed torrents, not $((N + 1)) (see $WORK/$name.log)" >&2
        exit 1
    fi
    sleep 20
    callgrind_control -d "$PID" >/dev/null
    for ((i = 0; i < 100; i++)); do
        compgen -G "$WORK/$name.cg.*" >/dev/null && break
        sleep 0.2
    done
    sleep 1
    kill -9 "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=''
}

# A database with an administrator to log in as: one untraced start creates it.
port=$(free_port)
PYTORRENT_DHT_ENABLE=false PYTORRENT_LSD_ENABLE=false PYTORRENT_UPNP_ENABLE=false \
    PYTORRENT_BT_PORT="$(free_port)" PYTORRENT_DOWNLOAD_DIR="$WORK/out-true" \
    "$BIN" serve --host 127.0.0.1 --port "$port" --data-dir "$WORK/data-true" >"$WORK/first.log" 2>&1 &
PID=$!
for ((i = 0; i < 100; i++)); do
    curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break
    sleep 0.2
done
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=''
"$BIN" user add recorder --role admin --password layout-recording-pw --data-dir "$WORK/data-true" >/dev/null
log "recording: start, login, $N adds, idle"; run add-auth true
log "recording: restart with $N torrents"; run restart-auth true
log "recording: authentication off"; run add-noauth false
run restart-noauth false

python3 - "$BIN" "$OUT" "$WORK"/*.cg.* <<'PY'
import re, subprocess, sys
binary, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
defined = {}
for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if len(p) == 3 and p[1] in "tTwW":
        defined[p[2]] = int(p[0], 16)
executed = set()
for f in files:
    names, objs, ob = {}, {}, None
    for line in open(f, errors="replace"):
        m = re.match(r"^(ob|fn|cob|cfn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not m:
            continue
        kind, idx, name = m.group(1), int(m.group(2)), m.group(3)
        if kind in ("ob", "cob"):
            if name:
                objs[idx] = name
            if kind == "ob":
                ob = idx
        else:
            if name:
                names[idx] = name
            if kind == "fn" and objs.get(ob) == binary and names.get(idx) in defined:
                executed.add(names[idx])
if len(executed) < 500:
    sys.exit(f"only {len(executed)} functions recorded: the traced daemon did not run as expected")
with open(out, "w") as o:
    o.write("# pytorrentd functions a running daemon executes, in their order in the binary the\n")
    o.write("# list was recorded from. Written by packaging/layout/record.sh; read by\n")
    o.write("# packaging/layout/cc-hot-first.\n")
    for n in sorted(executed, key=lambda n: defined[n]):
        o.write(n + "\n")
print(f"{len(executed)} functions, {sum(1 for _ in executed)} names -> {out}", file=sys.stderr)
PY
