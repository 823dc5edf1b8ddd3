#!/usr/bin/env bash
# Download / memory / restart benchmark of pytorrentd against qBittorrent-nox, Transmission
# and aria2c on loopback (SPEC §10). A benchmark, not a test: it prints numbers and ratios
# and exits 0 unless something broke (a failed SHA-256 check is reported as FAIL and makes
# the exit status 1).
#
#   cargo build --release                       # target/release/pytorrentd
#   apt-get install -y qbittorrent-nox transmission-cli transmission-daemon aria2 mktorrent \
#                      jq curl python3
#   benches/download/run.sh                     # 1 GiB, 3 rounds, all phases, ~10 min
#
# Environment:
#   SIZE_MB=1024            payload size (one file of random bytes)
#   PIECE_LOG2=20           mktorrent piece size (2^N bytes, 20 = 1 MiB)
#   ROUNDS=3                download rounds; leecher order alternates between rounds
#   WARMUP=1                one untimed download by the first leecher before round 1
#   LEECHERS="pytorrentd qbittorrent transmission aria2c"   (default: $PTD_LABEL, the
#                           PTD_VARIANTS labels, qbittorrent, transmission, aria2c)
#   PHASES="download memory restart"
#   N_TORRENTS=1000         paused torrents for the memory and restart phases
#   SETTLE=30               seconds to let both daemons settle before sampling memory
#   RESTARTS=3              restart measurements
#   DL_TIMEOUT=300          per-download timeout in seconds (a timeout is reported, not fatal)
#   PYTORRENTD_BIN=…        binary to benchmark (default: <repo>/target/release/pytorrentd)
#   PTD_LABEL=pytorrentd    name of that binary in the tables
#   PTD_VARIANTS="label=/path/bin …"  more pytorrentd builds (or wrapper scripts that set env
#                           and `exec` a binary) to run as extra download leechers, each
#                           compared with the fastest non-pytorrentd leecher
#   WORK=…                  work dir (default: mktemp under /tmp); removed unless KEEP=1
#   NETNS=1                 re-run inside a private network namespace (`unshare -n`, only
#                           `lo` exists) so that nothing can leave the machine; NETNS=0 to
#                           skip (DHT/LSD/UPnP/PEX are off in every client either way)
#   RESULTS=…               also append the raw TSV results to this file
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
POLL="$HERE/poll.py"

# --- private network namespace ------------------------------------------------------------
if [[ "${NETNS:-1}" == 1 && -z "${_PTD_BENCH_IN_NETNS:-}" ]]; then
    if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
        export _PTD_BENCH_IN_NETNS=1
        exec unshare -n -- bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
    fi
    echo "note: cannot create a network namespace; running in the host's (loopback only)" >&2
fi

SIZE_MB=${SIZE_MB:-1024}
PIECE_LOG2=${PIECE_LOG2:-20}
ROUNDS=${ROUNDS:-3}
PHASES=${PHASES:-"download memory restart"}
N_TORRENTS=${N_TORRENTS:-1000}
SETTLE=${SETTLE:-30}
RESTARTS=${RESTARTS:-3}
DL_TIMEOUT=${DL_TIMEOUT:-300}
PTD_BIN=${PYTORRENTD_BIN:-$ROOT/target/release/pytorrentd}
PTD_LABEL=${PTD_LABEL:-pytorrentd}
declare -A PTD_BINS=(["$PTD_LABEL"]="$PTD_BIN")
for v in ${PTD_VARIANTS:-}; do PTD_BINS["${v%%=*}"]="${v#*=}"; done
if [[ -z "${LEECHERS:-}" ]]; then
    LEECHERS="$PTD_LABEL"
    for v in ${PTD_VARIANTS:-}; do LEECHERS+=" ${v%%=*}"; done
    LEECHERS+=" qbittorrent transmission aria2c"
fi
SIZE=$((SIZE_MB * 1048576))

for tool in qbittorrent-nox transmission-cli transmission-daemon transmission-remote aria2c \
    mktorrent jq curl python3 ss sha256sum; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
[[ -x "$PTD_BIN" ]] || { echo "missing $PTD_BIN (cargo build --release)" >&2; exit 2; }

WORK=${WORK:-$(mktemp -d /tmp/ptd-dlbench-XXXXXX)}
mkdir -p "$WORK"
TSV="$WORK/results.tsv"
: >"$TSV"

# --- process bookkeeping: everything started here is stopped by PID -----------------------
PIDS=()
stop_pid() { # stop_pid PID [grace_seconds]; SIGTERM, then SIGKILL after the grace period
    local pid=$1 grace=${2:-10} i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.05
    done
    echo "  pid $pid ignored SIGTERM for ${grace}s, killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid" 5; done
    if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

free_port() { # a random free TCP+UDP port
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if [[ -z "$(ss -Htan "sport = :$p")$(ss -Huan "sport = :$p")" ]]; then
            echo "$p"; return
        fi
    done
}
wait_listen() { # wait_listen PORT [seconds]
    local i
    for ((i = 0; i < ${2:-30} * 20; i++)); do
        [[ -n "$(ss -Htln "sport = :$1")" ]] && return 0
        sleep 0.05
    done
    return 1
}
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
mem_of() { # mem_of PID -> "VmRSS RssAnon RssFile" in KiB
    awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} /^RssFile:/{f=$2} END{print r, a, f}' "/proc/$1/status"
}

# --- qBittorrent-nox (PEERS.md settings) --------------------------------------------------
QB_PID='' QB_URL=''
qb_start() { # qb_start DIR BT_PORT SAVE_PATH -> QB_PID, QB_URL
    local dir=$1 bt=$2 save=$3 web
    web=$(free_port)
    mkdir -p "$dir/qBittorrent/config" "$save"
    cat >"$dir/qBittorrent/config/qBittorrent.conf" <<EOF
[BitTorrent]
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false
Session\\Encryption=2
Session\\MultiConnectionsPerIp=true
Session\\BTProtocol=TCP
Session\\Interface=lo
Session\\InterfaceName=lo
Session\\InterfaceAddress=127.0.0.1
Session\\Port=$bt
Session\\DefaultSavePath=$save
Session\\QueueingSystemEnabled=false
Session\\AnonymousModeEnabled=false

[LegalNotice]
Accepted=true

[Network]
PortForwardingEnabled=false

[Preferences]
WebUI\\LocalHostAuth=false
WebUI\\Port=$web
WebUI\\Address=127.0.0.1
WebUI\\CSRFProtection=false
WebUI\\HostHeaderValidation=false
Connection\\ResolvePeerCountries=false
Connection\\UPnP=false
General\\Locale=C
EOF
    qbittorrent-nox --profile="$dir" --webui-port="$web" >"$dir/qbittorrent.log" 2>&1 &
    QB_PID=$!
    PIDS+=("$QB_PID")
    QB_URL="http://127.0.0.1:$web"
    local i
    for ((i = 0; i < 600; i++)); do
        curl -sf "$QB_URL/api/v2/app/version" >/dev/null 2>&1 && break
        sleep 0.05
    done
    # Runtime preferences: a 100 ms status refresh (default 1.5 s) so that progress polling
    # is precise; the rest repeats the file in WebAPI names in case a key was not picked up.
    curl -sf "$QB_URL/api/v2/app/setPreferences" --data-urlencode "json={\"refresh_interval\":100,\
\"listen_port\":$bt,\"upnp\":false,\"dht\":false,\"pex\":false,\"lsd\":false,\"encryption\":2,\
\"bittorrent_protocol\":1,\"enable_multi_connections_from_same_ip\":true,\
\"current_network_interface\":\"lo\",\"current_interface_address\":\"127.0.0.1\",\
\"queueing_enabled\":false,\"max_ratio_enabled\":false,\"max_seeding_time_enabled\":false,\
\"resolve_peer_countries\":false}" >/dev/null
    wait_listen "$bt" 20 || { echo "qbittorrent did not listen on $bt" >&2; return 1; }
}
qb_hash_state() { # qb_hash_state URL HASH -> state
    curl -sf "$1/api/v2/torrents/info?hashes=$2" | jq -r '.[0].state // "none"'
}

# --- payload and seeder ---------------------------------------------------------------------
mkdir -p "$WORK/seed"
PAYLOAD="$WORK/seed/payload.bin"
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)"
log "pytorrentd: $PTD_BIN ($(stat -c %y "$PTD_BIN" | cut -d. -f1))"
log "creating ${SIZE_MB} MiB payload and torrent in $WORK"
head -c "$SIZE" /dev/urandom >"$PAYLOAD"
PAYLOAD_SHA=$(sha256sum "$PAYLOAD" | cut -d' ' -f1)
mktorrent -l "$PIECE_LOG2" -a http://127.0.0.1:1/announce -o "$WORK/payload.torrent" "$PAYLOAD" >/dev/null
# mktorrent has no "print info hash": compute it from the bencoded info dict.
info_hash() {
    python3 - "$1" <<'EOF'
import hashlib, sys
d = open(sys.argv[1], "rb").read()
i = d.index(b"4:infod") + 6
def end(p):  # returns the index after the bencoded value at p
    c = d[p:p+1]
    if c == b"i": return d.index(b"e", p) + 1
    if c in (b"l", b"d"):
        p += 1
        while d[p:p+1] != b"e": p = end(p)
        return p + 1
    colon = d.index(b":", p); return colon + 1 + int(d[p:colon])
print(hashlib.sha1(d[i:end(i)]).hexdigest())
EOF
}
HASH=$(info_hash "$WORK/payload.torrent")
log "payload sha256 $PAYLOAD_SHA, info hash $HASH"

SEED_BT=''
SEED_URL=''
start_seeder() {
    SEED_BT=$(free_port)
    qb_start "$WORK/seeder" "$SEED_BT" "$WORK/seed"
    SEED_URL=$QB_URL SEED_PID=$QB_PID
    curl -sf "$SEED_URL/api/v2/torrents/add" -F "torrents=@$WORK/payload.torrent" \
        -F "savepath=$WORK/seed" -F skip_checking=true -F paused=false >/dev/null
    local i st
    for ((i = 0; i < 600; i++)); do
        st=$(qb_hash_state "$SEED_URL" "$HASH")
        [[ "$st" == uploading || "$st" == stalledUP ]] && break
        sleep 0.1
    done
    log "seeder: qbittorrent-nox $(curl -sf "$SEED_URL/api/v2/app/version") pid $SEED_PID bt port $SEED_BT, state $st"
}

# --- one leecher run ------------------------------------------------------------------------
# Each run: fresh dirs, page cache dropped, client started (daemons before the clock starts;
# the one-shot CLIs are started by the clock), add → complete measured by poll.py, SHA-256
# of the result compared with the payload's, client stopped, data removed.
run_leecher() { # run_leecher NAME ROUND [PHASE]
    local name=$1 round=$2 phase=${3:-download} dir="$WORK/leech-$1-$2" t0 res first done_s pid file sha ok mbs
    rm -rf "$dir"; mkdir -p "$dir/out"
    drop_caches
    local kind=$name
    [[ -n "${PTD_BINS[$name]:-}" ]] && kind=pytorrentd
    case $kind in
    pytorrentd)
        local web bt bin=${PTD_BINS[$name]}
        web=$(free_port); bt=$(free_port)
        env PYTORRENT_AUTH_ENABLE=false PYTORRENT_DHT_ENABLE=false PYTORRENT_LSD_ENABLE=false \
            PYTORRENT_UPNP_ENABLE=false PYTORRENT_BT_PORT="$bt" PYTORRENT_DOWNLOAD_DIR="$dir/out" \
            "$bin" serve --host 127.0.0.1 --port "$web" --data-dir "$dir/data" \
            >"$dir/daemon.log" 2>&1 &
        pid=$!; PIDS+=("$pid")
        python3 "$POLL" health "http://127.0.0.1:$web" --t0 "$(now)" --timeout 30 --pid "$pid" >/dev/null
        t0=$(now)
        if curl -sf "http://127.0.0.1:$web/api/profiles/default/torrents" \
            -F "torrent=@$WORK/payload.torrent" -F "peers=127.0.0.1:$SEED_BT" >/dev/null; then
            res=$(python3 "$POLL" ptd "http://127.0.0.1:$web" "$HASH" --t0 "$t0" \
                --timeout "$DL_TIMEOUT" --pid "$pid")
        else
            log "  $name: add failed (see $dir/daemon.log)"; res="- -"
        fi
        ;;
    qbittorrent)
        qb_start "$dir/profile" "$(free_port)" "$dir/out"
        pid=$QB_PID
        t0=$(now)
        curl -sf "$QB_URL/api/v2/torrents/add" -F "torrents=@$WORK/payload.torrent" \
            -F "savepath=$dir/out" -F paused=false >/dev/null || log "  $name: add failed"
        res=$(python3 "$POLL" qbit "$QB_URL" "$HASH" --t0 "$t0" --timeout "$DL_TIMEOUT" --pid "$pid" \
            --kick "$QB_URL/api/v2/torrents/addPeers" "hashes=$HASH&peers=127.0.0.1:$SEED_BT")
        ;;
    transmission)
        # transmission ignores peers in 127.0.0.0/8 that it learns itself: the seeder dials it.
        local bt
        bt=$(free_port)
        mkdir -p "$dir/conf"
        cat >"$dir/conf/settings.json" <<EOF
{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
 "port-forwarding-enabled": false, "encryption": 0, "bind-address-ipv4": "127.0.0.1",
 "bind-address-ipv6": "::1", "rpc-enabled": false, "rpc-whitelist": "127.0.0.1",
 "peer-port": $bt, "speed-limit-down-enabled": false, "speed-limit-up-enabled": false,
 "ratio-limit-enabled": false, "blocklist-enabled": false, "message-level": 1}
EOF
        printf '#!/bin/sh\ndate +%%s.%%N > %q\n' "$dir/done" >"$dir/done.sh"
        chmod +x "$dir/done.sh"
        t0=$(now)
        transmission-cli -g "$dir/conf" -w "$dir/out" -p "$bt" -et -M -B -D -U \
            -f "$dir/done.sh" "$WORK/payload.torrent" >"$dir/cli.log" 2>&1 &
        pid=$!; PIDS+=("$pid")
        wait_listen "$bt" 20 || true
        res=$(python3 "$POLL" trcli "$dir/cli.log" "$dir/done" --size "$SIZE" --t0 "$t0" \
            --timeout "$DL_TIMEOUT" --pid "$pid" \
            --kick "$SEED_URL/api/v2/torrents/addPeers" "hashes=$HASH&peers=127.0.0.1:$bt")
        ;;
    aria2c)
        local bt rpc
        bt=$(free_port); rpc=$(free_port)
        printf '#!/bin/sh\ndate +%%s.%%N > %q\n' "$dir/done.tmp" >"$dir/done.sh"
        printf 'mv %q %q\n' "$dir/done.tmp" "$dir/done" >>"$dir/done.sh"
        chmod +x "$dir/done.sh"
        t0=$(now)
        aria2c --no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false \
            --enable-peer-exchange=false --disable-ipv6=true --interface=127.0.0.1 \
            --listen-port="$bt" --bt-require-crypto=false --bt-min-crypto-level=plain \
            --dir="$dir/out" --file-allocation=falloc --seed-time=0 --check-integrity=false \
            --enable-rpc --rpc-listen-port="$rpc" --rpc-listen-all=false \
            --on-bt-download-complete="$dir/done.sh" --summary-interval=0 \
            --console-log-level=warn "$WORK/payload.torrent" >"$dir/aria2c.log" 2>&1 &
        pid=$!; PIDS+=("$pid")
        wait_listen "$bt" 20 || true
        res=$(python3 "$POLL" aria2 "http://127.0.0.1:$rpc" "$dir/done" --t0 "$t0" \
            --timeout "$DL_TIMEOUT" --pid "$pid" \
            --kick "$SEED_URL/api/v2/torrents/addPeers" "hashes=$HASH&peers=127.0.0.1:$bt")
        # the hook's file holds the completion time
        [[ -s "$dir/done" ]] && res="${res%% *} $(awk -v t0="$t0" '{printf "%.3f", $1 - t0}' "$dir/done")"
        ;;
    *) echo "unknown leecher $name" >&2; return 1 ;;
    esac
    read -r first done_s <<<"$res"
    stop_pid "$pid" 10
    file=$(find "$dir/out" -type f -name payload.bin | head -1)
    sha=$([[ -n "$file" ]] && sha256sum "$file" | cut -d' ' -f1 || echo none)
    ok=FAIL; [[ "$sha" == "$PAYLOAD_SHA" ]] && ok=ok
    if [[ "$done_s" == - ]]; then mbs=-; ok="TIMEOUT/$ok"; else
        mbs=$(awk -v s="$SIZE" -v t="$done_s" 'BEGIN{printf "%.1f", s / 1e6 / t}'); fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$name" "$round" "$done_s" "$first" "$mbs" "$ok" >>"$TSV"
    log "  $name round $round: ${done_s}s (first MiB ${first}s) = $mbs MB/s, sha256 $ok"
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$dir/out"
}

phase_download() {
    start_seeder
    local r order name
    read -ra order <<<"$LEECHERS"
    # One untimed warm-up download first: in trial runs the very first transfer after the
    # seeder started was ~1.5x slower whichever client did it.
    if [[ "${WARMUP:-1}" == 1 ]]; then
        log "warm-up: ${order[0]} (not counted)"
        run_leecher "${order[0]}" 0 warmup
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        local list=("${order[@]}")
        if ((r % 2 == 0)); then # alternate the order between rounds
            list=(); for ((i = ${#order[@]} - 1; i >= 0; i--)); do list+=("${order[i]}"); done
        fi
        log "round $r: ${list[*]}"
        for name in "${list[@]}"; do run_leecher "$name" "$r"; done
    done
    stop_pid "$SEED_PID" 10
}

# --- memory: N paused torrents, pytorrentd vs transmission-daemon -------------------------
make_many_torrents() {
    [[ -d "$WORK/many/torrents" ]] && return
    log "generating $N_TORRENTS small distinct torrents"
    mkdir -p "$WORK/many/src" "$WORK/many/torrents"
    local i n
    for ((i = 1; i <= N_TORRENTS; i++)); do
        n=$(printf 'many-%04d.bin' "$i")
        head -c 65536 /dev/urandom >"$WORK/many/src/$n"
        mktorrent -l 15 -a http://127.0.0.1:1/announce -o "$WORK/many/torrents/$n.torrent" \
            "$WORK/many/src/$n" >/dev/null
    done
}

PTD_PID='' PTD_WEB='' PTD_DIR=''
ptd_start() { # ptd_start DIR LOGNAME
    PTD_DIR=$1
    mkdir -p "$PTD_DIR/out"
    [[ -n "$PTD_WEB" ]] || PTD_WEB=$(free_port)
    [[ -n "${PTD_BT:-}" ]] || PTD_BT=$(free_port)
    PTD_T0=$(now)
    env PYTORRENT_AUTH_ENABLE=false PYTORRENT_DHT_ENABLE=false PYTORRENT_LSD_ENABLE=false \
        PYTORRENT_UPNP_ENABLE=false PYTORRENT_BT_PORT="$PTD_BT" PYTORRENT_DOWNLOAD_DIR="$PTD_DIR/out" \
        "$PTD_BIN" serve --host 127.0.0.1 --port "$PTD_WEB" --data-dir "$PTD_DIR/data" \
        >"$PTD_DIR/$2" 2>&1 &
    PTD_PID=$!; PIDS+=("$PTD_PID")
}

phase_memory() {
    make_many_torrents
    # pytorrentd
    ptd_start "$WORK/mem-ptd" daemon.log
    python3 "$POLL" health "http://127.0.0.1:$PTD_WEB" --t0 "$PTD_T0" --timeout 30 >/dev/null
    # transmission-daemon
    local tdir="$WORK/mem-tr" rpc bt
    rpc=$(free_port); bt=$(free_port)
    mkdir -p "$tdir/conf" "$tdir/out"
    cat >"$tdir/conf/settings.json" <<EOF
{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
 "port-forwarding-enabled": false, "encryption": 0, "bind-address-ipv4": "127.0.0.1",
 "bind-address-ipv6": "::1", "rpc-enabled": true, "rpc-bind-address": "127.0.0.1",
 "rpc-port": $rpc, "rpc-authentication-required": false, "rpc-whitelist-enabled": true,
 "rpc-whitelist": "127.0.0.1", "rpc-host-whitelist-enabled": false, "peer-port": $bt,
 "start-added-torrents": false, "download-dir": "$tdir/out", "incomplete-dir-enabled": false,
 "blocklist-enabled": false, "message-level": 1, "download-queue-enabled": false,
 "seed-queue-enabled": false}
EOF
    transmission-daemon -f -g "$tdir/conf" >"$tdir/daemon.log" 2>&1 &
    local tr_pid=$!; PIDS+=("$tr_pid")
    wait_listen "$rpc" 30
    sleep 5
    local ptd0 tr0
    ptd0=$(mem_of "$PTD_PID"); tr0=$(mem_of "$tr_pid")
    log "memory: empty pytorrentd [VmRSS RssAnon RssFile KiB] $ptd0, transmission-daemon $tr0"

    log "adding $N_TORRENTS paused torrents to both"
    local files=("$WORK"/many/torrents/*.torrent) i j args
    local t_add=$(now)
    for ((i = 0; i < ${#files[@]}; i += 100)); do
        args=()
        for ((j = i; j < i + 100 && j < ${#files[@]}; j++)); do args+=(-F "torrent=@${files[j]}"); done
        curl -sf "http://127.0.0.1:$PTD_WEB/api/profiles/default/torrents" -F paused=true "${args[@]}" >/dev/null
    done
    local ptd_add_s; ptd_add_s=$(awk -v a="$t_add" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
    t_add=$(now)
    for ((i = 0; i < ${#files[@]}; i += 100)); do
        args=() # one -a per file: `-a f1 f2 …` adds only the last one
        for ((j = i; j < i + 100 && j < ${#files[@]}; j++)); do args+=(-a "${files[j]}"); done
        transmission-remote "127.0.0.1:$rpc" "${args[@]}" >/dev/null
    done
    local tr_add_s; tr_add_s=$(awk -v a="$t_add" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
    local listed tr_count
    listed=$(python3 "$POLL" listed "http://127.0.0.1:$PTD_WEB" "$N_TORRENTS" --t0 "$(now)" --timeout 120)
    for ((i = 0; i < 600; i++)); do
        tr_count=$(transmission-remote "127.0.0.1:$rpc" -l | grep -c ' Stopped ' || true)
        ((tr_count >= N_TORRENTS)) && break
        sleep 0.2
    done
    log "  added in ${ptd_add_s}s (pytorrentd), ${tr_add_s}s (transmission); pytorrentd states $listed; transmission stopped: $tr_count"
    log "  settling ${SETTLE}s"
    sleep "$SETTLE"
    local k p t
    for ((k = 1; k <= 5; k++)); do
        p=$(mem_of "$PTD_PID"); t=$(mem_of "$tr_pid")
        printf 'memory\t%s\t%s\t%s\n' "$PTD_LABEL" "$k" "${p// /$'\t'}" >>"$TSV"
        printf 'memory\ttransmission-daemon\t%s\t%s\n' "$k" "${t// /$'\t'}" >>"$TSV"
        sleep 2
    done
    printf 'memory0\t%s\t0\t%s\n' "$PTD_LABEL" "${ptd0// /$'\t'}" >>"$TSV"
    printf 'memory0\ttransmission-daemon\t0\t%s\n' "${tr0// /$'\t'}" >>"$TSV"
    log "  pytorrentd $p, transmission-daemon $t (VmRSS RssAnon RssFile KiB)"
    stop_pid "$tr_pid" 10
}

# --- restart: N paused + one completed SIZE_MB torrent seeding -----------------------------
phase_restart() {
    if [[ -z "$PTD_PID" ]] || ! kill -0 "$PTD_PID" 2>/dev/null; then
        # memory phase skipped: build the same state here
        make_many_torrents
        ptd_start "$WORK/mem-ptd" daemon.log
        python3 "$POLL" health "http://127.0.0.1:$PTD_WEB" --t0 "$PTD_T0" --timeout 30 >/dev/null
        local files=("$WORK"/many/torrents/*.torrent) i j args
        for ((i = 0; i < ${#files[@]}; i += 100)); do
            args=()
            for ((j = i; j < i + 100 && j < ${#files[@]}; j++)); do args+=(-F "torrent=@${files[j]}"); done
            curl -sf "http://127.0.0.1:$PTD_WEB/api/profiles/default/torrents" -F paused=true "${args[@]}" >/dev/null
        done
    fi
    local base="http://127.0.0.1:$PTD_WEB" n=$((N_TORRENTS + 1)) st i
    log "restart: adding the completed ${SIZE_MB} MiB torrent (data in place, one initial check)"
    cp "$PAYLOAD" "$PTD_DIR/out/payload.bin"
    curl -sf "$base/api/profiles/default/torrents" -F "torrent=@$WORK/payload.torrent" >/dev/null
    for ((i = 0; i < 1200; i++)); do
        st=$(curl -sf "$base/api/torrents/$HASH" | jq -r .state)
        [[ "$st" == seeding ]] && break
        sleep 0.1
    done
    log "  state: $st; waiting 5 s for fast-resume state to be written"
    sleep 5
    local r t_stop t_health listed rehash cache
    # RESTARTS warm restarts (page cache as a `systemctl restart` finds it), then one cold
    # one (page cache dropped between stop and start: binary, redb file and resume files
    # come from disk).
    for ((r = 1; r <= RESTARTS + 1; r++)); do
        cache=warm; ((r > RESTARTS)) && cache=cold
        t_stop=$(now)
        stop_pid "$PTD_PID" 15
        t_stop=$(awk -v a="$t_stop" -v b="$(now)" 'BEGIN{printf "%.3f", b-a}')
        [[ $cache == cold ]] && drop_caches
        ptd_start "$PTD_DIR" "restart-$r.log"
        t_health=$(python3 "$POLL" health "$base" --t0 "$PTD_T0" --interval 0.01 --timeout 60)
        listed=$(python3 "$POLL" listed "$base" "$n" --t0 "$PTD_T0" --interval 0.02 --timeout 120)
        st=$(curl -sf "$base/api/torrents/$HASH" | jq -r .state)
        rehash=$(grep -c 'Doing initial checksum validation' "$PTD_DIR/restart-$r.log" || true)
        printf 'restart\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$PTD_LABEL" "$r-$cache" "$t_stop" "$t_health" \
            "${listed%% *}" "$st" "$rehash" >>"$TSV"
        log "  restart $r ($cache cache): stop ${t_stop}s, health ${t_health}s, all $n listed in final state ${listed}s, big one $st, re-hash lines: $rehash"
        grep -o 'all torrents restored.*' "$PTD_DIR/restart-$r.log" | head -1 >&2 || true
    done
    # Memory of a restarted daemon (no password was hashed in this process), after settling.
    sleep "$SETTLE"
    local m; m=$(mem_of "$PTD_PID")
    printf 'restartmem\t%s\t0\t%s\n' "$PTD_LABEL" "${m// /$'\t'}" >>"$TSV"
    log "  after restart + ${SETTLE}s: $m (VmRSS RssAnon RssFile KiB)"
    stop_pid "$PTD_PID" 15
}

for ph in $PHASES; do "phase_$ph"; done
[[ -n "${RESULTS:-}" ]] && cat "$TSV" >>"$RESULTS"

# --- report ---------------------------------------------------------------------------------
echo
echo "## pytorrentd download benchmark — $(date -u +%FT%TZ)"
echo "pytorrentd: $PTD_BIN (built $(stat -c %y "$PTD_BIN" | cut -d. -f1)); repo HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); payload ${SIZE_MB} MiB, piece 2^$PIECE_LOG2 B; seeder qbittorrent-nox; $ROUNDS rounds"
if grep -q '^download' "$TSV"; then
    echo
    echo "| leecher | median s | MB/s (median) | first MiB s | runs (s) | sha256 |"
    echo "|---|---:|---:|---:|---|---|"
    best_other='' best_other_name='' ours=()
    for name in $(cut -f2 <(grep '^download' "$TSV") | awk '!s[$0]++'); do
        rows=$(awk -F'\t' -v n="$name" '$1=="download" && $2==n' "$TSV")
        med=$(cut -f4 <<<"$rows" | { grep -v '^-$' || true; } | median)
        first=$(cut -f5 <<<"$rows" | { grep -v '^-$' || true; } | median)
        runs=$(cut -f4 <<<"$rows" | paste -sd' ')
        oks=$(cut -f7 <<<"$rows" | sort | uniq -c | awk '{printf "%s%s×%s", (NR>1?", ":""), $1, $2}')
        mbs=$([[ "$med" == - ]] && echo - || awk -v s="$SIZE" -v t="$med" 'BEGIN{printf "%.1f", s/1e6/t}')
        echo "| $name | $med | $mbs | $first | $runs | $oks |"
        if [[ -n "${PTD_BINS[$name]:-}" ]]; then ours+=("$name=$mbs")
        elif [[ "$mbs" != - ]] && awk -v a="$mbs" -v b="${best_other:-0}" 'BEGIN{exit !(a>b)}'; then
            best_other=$mbs best_other_name=$name
        fi
    done
    [[ ${#ours[@]} -gt 0 && -n "$best_other" ]] && echo
    for o in "${ours[@]}"; do
        [[ -n "$best_other" && "${o#*=}" != - ]] || continue
        awk -v a="${o#*=}" -v b="$best_other" -v n="$best_other_name" -v l="${o%%=*}" \
            'BEGIN{r=a/b; printf "%s / fastest other (%s): %.2f  (SPEC §10: >= 1.0 → %s)\n", l, n, r, (r>=1.0?"PASS":"FAIL")}'
    done
fi
if grep -q '^memory' "$TSV"; then
    echo
    echo "| $N_TORRENTS paused torrents (median of 5 samples after ${SETTLE}s) | VmRSS MiB | RssAnon MiB | RssFile MiB | empty daemon VmRSS / RssAnon MiB |"
    echo "|---|---:|---:|---:|---:|"
    for name in "$PTD_LABEL" transmission-daemon; do
        rows=$(awk -F'\t' -v n="$name" '$1=="memory" && $2==n' "$TSV")
        z=$(awk -F'\t' -v n="$name" '$1=="memory0" && $2==n {printf "%.1f / %.1f", $4/1024, $5/1024}' "$TSV")
        printf '| %s | %.1f | %.1f | %.1f | %s |\n' "$name" \
            "$(cut -f4 <<<"$rows" | median | awk '{print $1/1024}')" \
            "$(cut -f5 <<<"$rows" | median | awk '{print $1/1024}')" \
            "$(cut -f6 <<<"$rows" | median | awk '{print $1/1024}')" "$z"
    done
    p=$(awk -F'\t' -v n="$PTD_LABEL" '$1=="memory" && $2==n {print $4}' "$TSV" | median)
    pa=$(awk -F'\t' -v n="$PTD_LABEL" '$1=="memory" && $2==n {print $5}' "$TSV" | median)
    t=$(awk -F'\t' '$1=="memory" && $2=="transmission-daemon" {print $4}' "$TSV" | median)
    ta=$(awk -F'\t' '$1=="memory" && $2=="transmission-daemon" {print $5}' "$TSV" | median)
    echo
    awk -v p="$p" -v t="$t" -v pa="$pa" -v ta="$ta" 'BEGIN{printf "pytorrentd / transmission-daemon: VmRSS %.2f, RssAnon %.2f  (SPEC §10: <= 1.0 → %s)\n", p/t, pa/ta, (p<=t?"PASS":"FAIL")}'
fi
if grep -q '^restart' "$TSV"; then
    echo
    echo "| restart ($N_TORRENTS paused + 1 × ${SIZE_MB} MiB seeding) | SIGTERM → exit s | start → /api/health s | start → all listed in final state s | big torrent | re-hash log lines |"
    echo "|---|---:|---:|---:|---|---:|"
    awk -F'\t' '$1=="restart" {printf "| run %s | %s | %s | %s | %s | %s |\n", $3, $4, $5, $6, $7, $8}' "$TSV"
    m=$(awk -F'\t' '$1=="restart" && $3 ~ /warm/ {print $6}' "$TSV" | median)
    echo
    awk -v m="$m" 'BEGIN{printf "median start → ready (warm cache): %ss (SPEC §10: < 3 s → %s)\n", m, (m<3?"PASS":"FAIL")}'
    awk -F'\t' '$1=="restartmem" {printf "memory of the restarted daemon after the settle time: VmRSS %.1f MiB, RssAnon %.1f MiB\n", $4/1024, $5/1024}' "$TSV"
fi
echo
echo "raw results: $TSV"
cp "$TSV" "/tmp/ptd-dlbench-last.tsv" 2>/dev/null || true
grep -q $'\tFAIL\|TIMEOUT' "$TSV" && exit 1 || exit 0
