#!/usr/bin/env bash
# pytorrentd's benchmark: one command, every anchor started here, one table of ratios.
# A benchmark, not a test: figures go to BENCHMARKS.md (see its "How to run").
#
#   cargo build --release
#   apt-get install -y qbittorrent-nox transmission-daemon transmission-cli aria2 mktorrent \
#                      jq curl python3 iproute2 nodejs      # (and `cd ui && npm ci` once)
#   benches/run.sh              # full run (~40 min): 1 GiB, 3 rounds, 1k and 10k torrents
#   BENCH_MODE=small benches/run.sh   # CI: 64 MiB, one round, 100/300 torrents, no rqbit;
#                                     # checks that it works, does not judge the figures
#
# Phases (PHASES, default all): download (1 GiB from a qBittorrent-nox seeder into
# pytorrentd, qBittorrent-nox, rqbit 9.1 and aria2c, CPU seconds and peak RSS of each),
# upload (pytorrentd and qBittorrent-nox each seeding to a fresh qBittorrent-nox leecher),
# many (MANY_COUNT torrents of MANY_MB from two qBittorrent-nox seeders into pytorrentd and
# qBittorrent-nox), memory (N_TORRENTS paused torrents in pytorrentd and transmission-daemon),
# restart (those plus the 1 GiB one seeding), scale (SCALE_TORRENTS torrents, SCALE_SEEDING of
# them seeding, in both daemons: memory, list latency, restart; then the feed benchmark
# benches/feed/bench.mjs with that many torrents and 50 clients).
# benches/report.py prints the table of ratios (pytorrentd / each anchor) against the goals
# in BENCHMARKS.md and exits 1 when a goal is missed (full mode) or a run failed (any mode).
#
# rqbit 9.1.0 (the same engine, as its author ships it) is built once with
#   cargo install --locked rqbit@9.1.0 --root ~/.cache/pytorrentd/rqbit-9.1.0
# (RQBIT_BIN overrides; the script says so and stops when it is missing in full mode).
#
# Environment:
#   SIZE_MB=1024            payload size (one file of random bytes)
#   PIECE_LOG2=20           mktorrent piece size (2^N bytes, 20 = 1 MiB)
#   ROUNDS=3                rounds of download/upload/many; the order alternates per round
#   WARMUP=1                one untimed download by the first leecher before round 1
#   LEECHERS="pytorrentd qbittorrent rqbit aria2c"   (transmission is also known)
#   PHASES="download upload many memory restart scale"
#   N_TORRENTS=1000         paused torrents for the memory and restart phases
#   SCALE_TORRENTS=10000 SCALE_SEEDING=1000   torrents of the scale phase, how many seed
#   MANY_COUNT=10 MANY_MB=100                 the many-torrents phase
#   SETTLE=30               seconds to let both daemons settle before sampling memory
#   RESTARTS=3              restart measurements
#   DL_TIMEOUT=300          per-download timeout in seconds (a timeout is reported, not fatal)
#   PYTORRENTD_BIN=…        binary to benchmark (default: <repo>/target/release/pytorrentd)
#   PTD_LABEL=pytorrentd    name of that binary in the tables
#   PTD_VARIANTS="label=/path/bin …"  more pytorrentd builds (or wrapper scripts that set env
#                           and `exec` a binary) to run as extra download leechers
#   WORK=…                  work dir (default: mktemp under /tmp); removed unless KEEP=1
#   NETNS=1                 re-run inside a private network namespace (`unshare -n`, only
#                           `lo` exists) so that nothing can leave the machine; NETNS=0 to
#                           skip (DHT/LSD/UPnP/PEX are off in every client either way)
#   RESULTS=…               also append the raw TSV results to this file
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
POLL="$HERE/poll.py"

# --- private network namespace ------------------------------------------------------------
if [[ "${NETNS:-1}" == 1 && -z "${_PTD_BENCH_IN_NETNS:-}" ]]; then
    if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
        export _PTD_BENCH_IN_NETNS=1
        exec unshare -n -- bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
    fi
    echo "note: cannot create a network namespace; running in the host's (loopback only)" >&2
fi

BENCH_MODE=${BENCH_MODE:-full}
case $BENCH_MODE in
full) ;;
small)
    : "${SIZE_MB:=64}" "${ROUNDS:=1}" "${WARMUP:=0}" "${N_TORRENTS:=100}" "${SCALE_TORRENTS:=300}"
    : "${SCALE_SEEDING:=30}" "${MANY_COUNT:=3}" "${MANY_MB:=16}" "${SETTLE:=3}" "${RESTARTS:=1}"
    : "${LEECHERS:=pytorrentd qbittorrent aria2c}" "${FEED_ARGS:=--rounds 1 --window 3 --clients 10}"
    ;;
*) echo "BENCH_MODE is full or small" >&2; exit 2 ;;
esac
SIZE_MB=${SIZE_MB:-1024}
PIECE_LOG2=${PIECE_LOG2:-20}
ROUNDS=${ROUNDS:-3}
PHASES=${PHASES:-"download upload many memory restart scale"}
N_TORRENTS=${N_TORRENTS:-1000}
SCALE_TORRENTS=${SCALE_TORRENTS:-10000}
SCALE_SEEDING=${SCALE_SEEDING:-1000}
MANY_COUNT=${MANY_COUNT:-10}
MANY_MB=${MANY_MB:-100}
FEED_ARGS=${FEED_ARGS:-"--rounds 3 --window 10 --clients 50"}
SETTLE=${SETTLE:-30}
RESTARTS=${RESTARTS:-3}
DL_TIMEOUT=${DL_TIMEOUT:-300}
RQBIT_BIN=${RQBIT_BIN:-$HOME/.cache/pytorrentd/rqbit-9.1.0/bin/rqbit}
PTD_BIN=${PYTORRENTD_BIN:-$ROOT/target/release/pytorrentd}
PTD_LABEL=${PTD_LABEL:-pytorrentd}
declare -A PTD_BINS=(["$PTD_LABEL"]="$PTD_BIN")
for v in ${PTD_VARIANTS:-}; do PTD_BINS["${v%%=*}"]="${v#*=}"; done
if [[ -z "${LEECHERS:-}" ]]; then
    LEECHERS="$PTD_LABEL"
    for v in ${PTD_VARIANTS:-}; do LEECHERS+=" ${v%%=*}"; done
    LEECHERS+=" qbittorrent rqbit aria2c"
fi
SIZE=$((SIZE_MB * 1048576))

for tool in qbittorrent-nox transmission-cli transmission-daemon transmission-remote aria2c \
    mktorrent jq curl python3 ss sha256sum node; do
    command -v "$tool" >/dev/null || {
        echo "missing: $tool (apt-get install -y qbittorrent-nox transmission-daemon transmission-cli aria2 mktorrent jq curl python3 iproute2 nodejs)" >&2
        exit 2
    }
done
[[ -x "$PTD_BIN" ]] || { echo "missing $PTD_BIN (cargo build --release)" >&2; exit 2; }
if [[ " $LEECHERS " == *" rqbit "* && ! -x "$RQBIT_BIN" ]]; then
    echo "missing rqbit 9.1.0 at $RQBIT_BIN: cargo install --locked rqbit@9.1.0 --root ~/.cache/pytorrentd/rqbit-9.1.0" >&2
    exit 2
fi
if [[ " $PHASES " == *" scale "* && ! -d "$ROOT/ui/node_modules/socket.io-client" ]]; then
    echo "missing ui/node_modules (the feed benchmark uses socket.io-client): cd ui && npm ci" >&2
    exit 2
fi
CLK=$(getconf CLK_TCK)

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
cpu_of() { # cpu_of PID -> user+system CPU seconds so far
    awk -v clk="$CLK" '{sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / clk}' "/proc/$1/stat"
}
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
    local cpu='' cpu0
    rm -rf "$dir"; mkdir -p "$dir/out"
    drop_caches
    # The seeder serves from the page cache: this measures the leecher, not the disk (whose
    # read speed on a shared VM varied by ±30 % between runs).
    cat "$PAYLOAD" >/dev/null
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
        cpu0=$(cpu_of "$pid")
        t0=$(now)
        if curl -sf "http://127.0.0.1:$web/api/profiles/default/torrents" \
            -F "torrent=@$WORK/payload.torrent" -F "peers=127.0.0.1:$SEED_BT" >/dev/null; then
            res=$(python3 "$POLL" ptd "http://127.0.0.1:$web" "$HASH" --t0 "$t0" \
                --timeout "$DL_TIMEOUT" --pid "$pid" --rss-pid "$pid")
        else
            log "  $name: add failed (see $dir/daemon.log)"; res="- - -"
        fi
        cpu=$(awk -v a="$cpu0" -v b="$(cpu_of "$pid")" 'BEGIN{printf "%.2f", b - a}')
        ;;
    qbittorrent)
        qb_start "$dir/profile" "$(free_port)" "$dir/out"
        pid=$QB_PID
        cpu0=$(cpu_of "$pid")
        t0=$(now)
        curl -sf "$QB_URL/api/v2/torrents/add" -F "torrents=@$WORK/payload.torrent" \
            -F "savepath=$dir/out" -F paused=false >/dev/null || log "  $name: add failed"
        res=$(python3 "$POLL" qbit "$QB_URL" "$HASH" --t0 "$t0" --timeout "$DL_TIMEOUT" --pid "$pid" \
            --rss-pid "$pid" \
            --kick "$QB_URL/api/v2/torrents/addPeers" "hashes=$HASH&peers=127.0.0.1:$SEED_BT")
        cpu=$(awk -v a="$cpu0" -v b="$(cpu_of "$pid")" 'BEGIN{printf "%.2f", b - a}')
        ;;
    rqbit)
        # The one-shot CLI (`rqbit download -e`), started by the clock like aria2c; poll.py
        # runs it and reads its CPU time from the kernel's accounting when it exits.
        local bt
        bt=$(free_port)
        pid=''
        t0=$(now)
        res=$(python3 "$POLL" run "$dir/out" --t0 "$t0" --timeout "$DL_TIMEOUT" -- \
            "$RQBIT_BIN" -v warn --disable-dht --disable-dht-persistence \
            --disable-upnp-port-forward --listen-port "$bt" download -e --disable-http-api \
            --initial-peers "127.0.0.1:$SEED_BT" -o "$dir/out" "$WORK/payload.torrent")
        # poll.py prints first, done, cpu, peak rss
        read -r _f _d cpu _r <<<"$res"
        res="$_f $_d $_r"
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
    local rss
    read -r first done_s rss <<<"$res"
    [[ -n "$pid" ]] && stop_pid "$pid" 10
    file=$(find "$dir/out" -type f -name payload.bin | head -1)
    sha=$([[ -n "$file" ]] && sha256sum "$file" | cut -d' ' -f1 || echo none)
    ok=FAIL; [[ "$sha" == "$PAYLOAD_SHA" ]] && ok=ok
    if [[ "$done_s" == - ]]; then mbs=-; ok="TIMEOUT/$ok"; else
        mbs=$(awk -v s="$SIZE" -v t="$done_s" 'BEGIN{printf "%.1f", s / 1e6 / t}'); fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$name" "$round" "$done_s" "$first" "$mbs" "$ok" \
        "${cpu:--}" "${rss:--}" >>"$TSV"
    log "  $name round $round: ${done_s}s (first MiB ${first}s) = $mbs MB/s, sha256 $ok, CPU ${cpu:--} s, peak RSS ${rss:--} KiB"
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

# --- upload: pytorrentd or qBittorrent-nox seeding to a fresh qBittorrent-nox leecher -------
# The seeder has the payload in place and is seeding before the clock starts; the clock runs
# from the leecher's add (told the seeder's address) to its progress 1. The seeder's CPU is
# measured over the same span.
upload_run() { # upload_run SEEDER ROUND
    local seeder=$1 round=$2 dir="$WORK/up-$1-$2" spid sport t0 res first done_s rss cpu0 cpu st i
    rm -rf "$dir"; mkdir -p "$dir/seed" "$dir/leech"
    cp "$PAYLOAD" "$dir/seed/payload.bin"
    drop_caches
    case $seeder in
    pytorrentd)
        local web
        web=$(free_port); sport=$(free_port)
        env PYTORRENT_AUTH_ENABLE=false PYTORRENT_DHT_ENABLE=false PYTORRENT_LSD_ENABLE=false \
            PYTORRENT_UPNP_ENABLE=false PYTORRENT_BT_PORT="$sport" PYTORRENT_DOWNLOAD_DIR="$dir/seed" \
            "$PTD_BIN" serve --host 127.0.0.1 --port "$web" --data-dir "$dir/data" \
            >"$dir/daemon.log" 2>&1 &
        spid=$!; PIDS+=("$spid")
        python3 "$POLL" health "http://127.0.0.1:$web" --t0 "$(now)" --timeout 30 --pid "$spid" >/dev/null
        curl -sf "http://127.0.0.1:$web/api/profiles/default/torrents" \
            -F "torrent=@$WORK/payload.torrent" >/dev/null
        for ((i = 0; i < 1200; i++)); do
            st=$(curl -sf "http://127.0.0.1:$web/api/torrents/$HASH" | jq -r .state)
            [[ "$st" == seeding ]] && break
            sleep 0.1
        done
        ;;
    qbittorrent)
        sport=$(free_port)
        qb_start "$dir/seeder" "$sport" "$dir/seed"
        spid=$QB_PID
        curl -sf "$QB_URL/api/v2/torrents/add" -F "torrents=@$WORK/payload.torrent" \
            -F "savepath=$dir/seed" -F skip_checking=true -F paused=false >/dev/null
        for ((i = 0; i < 600; i++)); do
            st=$(qb_hash_state "$QB_URL" "$HASH")
            [[ "$st" == uploading || "$st" == stalledUP ]] && break
            sleep 0.1
        done
        ;;
    esac
    qb_start "$dir/leecher" "$(free_port)" "$dir/leech"
    local lpid=$QB_PID
    cpu0=$(cpu_of "$spid")
    t0=$(now)
    curl -sf "$QB_URL/api/v2/torrents/add" -F "torrents=@$WORK/payload.torrent" \
        -F "savepath=$dir/leech" -F paused=false >/dev/null
    res=$(python3 "$POLL" qbit "$QB_URL" "$HASH" --t0 "$t0" --timeout "$DL_TIMEOUT" --pid "$lpid" \
        --rss-pid "$spid" \
        --kick "$QB_URL/api/v2/torrents/addPeers" "hashes=$HASH&peers=127.0.0.1:$sport")
    cpu=$(awk -v a="$cpu0" -v b="$(cpu_of "$spid")" 'BEGIN{printf "%.2f", b - a}')
    read -r first done_s rss <<<"$res"
    stop_pid "$lpid" 10; stop_pid "$spid" 10
    local sha ok=FAIL mbs=-
    sha=$(sha256sum "$dir/leech/payload.bin" 2>/dev/null | cut -d' ' -f1)
    [[ "$sha" == "$PAYLOAD_SHA" ]] && ok=ok
    if [[ "$done_s" == - ]]; then ok="TIMEOUT/$ok"; else
        mbs=$(awk -v s="$SIZE" -v t="$done_s" 'BEGIN{printf "%.1f", s / 1e6 / t}'); fi
    printf 'upload\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$seeder" "$round" "$done_s" "$first" "$mbs" "$ok" \
        "$cpu" "${rss:--}" >>"$TSV"
    log "  seeder $seeder round $round: ${done_s}s = $mbs MB/s, sha256 $ok, seeder CPU $cpu s, peak RSS ${rss:--} KiB"
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$dir"
}
phase_upload() {
    local r list
    for ((r = 1; r <= ROUNDS; r++)); do
        list=(pytorrentd qbittorrent); ((r % 2 == 0)) && list=(qbittorrent pytorrentd)
        log "upload round $r: ${list[*]}"
        for s in "${list[@]}"; do upload_run "$s" "$r"; done
    done
}

# --- many: MANY_COUNT torrents of MANY_MB at once from two qBittorrent-nox seeders ----------
# Both leechers download every torrent at once (pytorrentd's profile allows MANY_COUNT
# active downloads; qBittorrent's queueing is off), each torrent from both seeders.
phase_many() {
    local i n msize=$((MANY_MB * 1048576)) hashes=() seeds=() r
    log "many: $MANY_COUNT torrents of $MANY_MB MiB"
    mkdir -p "$WORK/many-seed" "$WORK/many-t"
    for ((i = 1; i <= MANY_COUNT; i++)); do
        n=$(printf 'm%02d.bin' "$i")
        head -c "$msize" /dev/urandom >"$WORK/many-seed/$n"
        mktorrent -l "$PIECE_LOG2" -a http://127.0.0.1:1/announce -o "$WORK/many-t/$n.torrent" \
            "$WORK/many-seed/$n" >/dev/null
        hashes+=("$(info_hash "$WORK/many-t/$n.torrent")")
    done
    (cd "$WORK/many-seed" && sha256sum ./*.bin | sort -k2) >"$WORK/many.sha"
    local s1 s2 s1pid s2pid
    for k in 1 2; do
        local bt; bt=$(free_port)
        qb_start "$WORK/many-seeder$k" "$bt" "$WORK/many-seed"
        for f in "$WORK"/many-t/*.torrent; do
            curl -sf "$QB_URL/api/v2/torrents/add" -F "torrents=@$f" -F "savepath=$WORK/many-seed" \
                -F skip_checking=true -F paused=false >/dev/null
        done
        seeds+=("$bt"); [[ $k == 1 ]] && s1pid=$QB_PID || s2pid=$QB_PID
    done
    local peers="127.0.0.1:${seeds[0]},127.0.0.1:${seeds[1]}"
    for ((r = 1; r <= ROUNDS; r++)); do
        local list=(pytorrentd qbittorrent); ((r % 2 == 0)) && list=(qbittorrent pytorrentd)
        log "many round $r: ${list[*]}"
        for name in "${list[@]}"; do
            local dir="$WORK/many-$name-$r" pid t0 res first done_s rss cpu0 cpu ok=FAIL
            rm -rf "$dir"; mkdir -p "$dir/out"
            drop_caches
            if [[ $name == pytorrentd ]]; then
                local web bt
                web=$(free_port); bt=$(free_port)
                env PYTORRENT_AUTH_ENABLE=false PYTORRENT_DHT_ENABLE=false PYTORRENT_LSD_ENABLE=false \
                    PYTORRENT_UPNP_ENABLE=false PYTORRENT_BT_PORT="$bt" PYTORRENT_DOWNLOAD_DIR="$dir/out" \
                    "$PTD_BIN" serve --host 127.0.0.1 --port "$web" --data-dir "$dir/data" \
                    >"$dir/daemon.log" 2>&1 &
                pid=$!; PIDS+=("$pid")
                python3 "$POLL" health "http://127.0.0.1:$web" --t0 "$(now)" --timeout 30 --pid "$pid" >/dev/null
                curl -sf -X PATCH "http://127.0.0.1:$web/api/profiles/default" \
                    -H 'Content-Type: application/json' -d "{\"max_active_downloads\": $MANY_COUNT}" >/dev/null
                local args=()
                for f in "$WORK"/many-t/*.torrent; do args+=(-F "torrent=@$f"); done
                cpu0=$(cpu_of "$pid"); t0=$(now)
                curl -sf "http://127.0.0.1:$web/api/profiles/default/torrents" -F "peers=$peers" "${args[@]}" >/dev/null
                res=$(python3 "$POLL" ptdall "http://127.0.0.1:$web" "$MANY_COUNT" --t0 "$t0" \
                    --timeout "$DL_TIMEOUT" --pid "$pid" --rss-pid "$pid")
            else
                qb_start "$dir/profile" "$(free_port)" "$dir/out"
                pid=$QB_PID
                cpu0=$(cpu_of "$pid"); t0=$(now)
                for f in "$WORK"/many-t/*.torrent; do
                    curl -sf "$QB_URL/api/v2/torrents/add" -F "torrents=@$f" -F "savepath=$dir/out" \
                        -F paused=false >/dev/null
                done
                local hl; hl=$(IFS='|'; echo "${hashes[*]}")
                res=$(python3 "$POLL" qbitall "$QB_URL" "$MANY_COUNT" --t0 "$t0" --timeout "$DL_TIMEOUT" \
                    --pid "$pid" --rss-pid "$pid" \
                    --kick "$QB_URL/api/v2/torrents/addPeers" "hashes=$hl&peers=127.0.0.1:${seeds[0]}|127.0.0.1:${seeds[1]}")
            fi
            cpu=$(awk -v a="$cpu0" -v b="$(cpu_of "$pid")" 'BEGIN{printf "%.2f", b - a}')
            read -r first done_s rss <<<"$res"
            stop_pid "$pid" 10
            (cd "$dir/out" && sha256sum ./*.bin 2>/dev/null | sort -k2) | cmp -s - "$WORK/many.sha" && ok=ok
            local mbs=-
            [[ "$done_s" == - ]] && ok="TIMEOUT/$ok" || \
                mbs=$(awk -v s="$((msize * MANY_COUNT))" -v t="$done_s" 'BEGIN{printf "%.1f", s / 1e6 / t}')
            printf 'many\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$r" "$done_s" "$first" "$mbs" "$ok" \
                "$cpu" "${rss:--}" >>"$TSV"
            log "  $name round $r: all $MANY_COUNT in ${done_s}s = $mbs MB/s, sha256 $ok, CPU $cpu s, peak RSS ${rss:--} KiB"
            [[ "${KEEP:-0}" == 1 ]] || rm -rf "$dir"
        done
    done
    stop_pid "$s1pid" 10; stop_pid "$s2pid" 10
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$WORK/many-seed"
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

# --- scale: SCALE_TORRENTS torrents (SCALE_SEEDING of them seeding, the rest paused) -------
gen_torrents() { # gen_torrents N SEEDN DIR: DIR/t/*.torrent (64 KiB, 32 KiB pieces), data of the first SEEDN in DIR/data
    python3 - "$@" <<'PY'
import hashlib, os, sys
n, seedn, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(f"{out}/t", exist_ok=True); os.makedirs(f"{out}/data", exist_ok=True)
def be(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, str): v = v.encode()
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, dict): return b"d" + b"".join(be(k) + be(v[k]) for k in sorted(v)) + b"e"
for i in range(n):
    name = f"s-{i:05d}.bin"
    data = os.urandom(65536)
    pieces = b"".join(hashlib.sha1(data[o:o + 32768]).digest() for o in range(0, 65536, 32768))
    info = {"length": 65536, "name": name, "piece length": 32768, "pieces": pieces}
    with open(f"{out}/t/{name}.torrent", "wb") as f:
        f.write(be({"announce": "http://127.0.0.1:1/announce", "info": info}))
    if i < seedn:
        with open(f"{out}/data/{name}", "wb") as f:
            f.write(data)
PY
}
phase_scale() {
    local S="$WORK/scale" i j args
    log "scale: generating $SCALE_TORRENTS torrents ($SCALE_SEEDING with data, to seed)"
    gen_torrents "$SCALE_TORRENTS" "$SCALE_SEEDING" "$S"
    local files=("$S"/t/*.torrent)
    # pytorrentd: the seeding ones with their data in place, the rest paused
    PTD_WEB='' PTD_BT=''
    mkdir -p "$S/ptd/out"
    ((SCALE_SEEDING > 0)) && cp "$S"/data/* "$S/ptd/out/"
    ptd_start "$S/ptd" daemon.log
    local base="http://127.0.0.1:$PTD_WEB"
    python3 "$POLL" health "$base" --t0 "$PTD_T0" --timeout 30 >/dev/null
    local t_add paused
    t_add=$(now)
    # batches of up to 100, the seeding ones (0..SCALE_SEEDING-1) in batches of their own
    local end
    for ((i = 0; i < ${#files[@]}; i = end)); do
        end=$((i + 100)); ((end > ${#files[@]})) && end=${#files[@]}
        paused=true
        if ((i < SCALE_SEEDING)); then paused=false; ((end > SCALE_SEEDING)) && end=$SCALE_SEEDING; fi
        args=()
        for ((j = i; j < end; j++)); do args+=(-F "torrent=@${files[j]}"); done
        curl -sf "$base/api/profiles/default/torrents" -F "paused=$paused" "${args[@]}" >/dev/null
    done
    local listed
    listed=$(python3 "$POLL" listed "$base" "$SCALE_TORRENTS" --t0 "$t_add" --timeout 600)
    log "  pytorrentd: added and settled after ${listed} s"
    # transmission-daemon: the same torrents, the seeding ones first (ids 1..SCALE_SEEDING)
    local tdir="$S/tr" rpc bt
    rpc=$(free_port); bt=$(free_port)
    mkdir -p "$tdir/conf" "$tdir/out"
    ((SCALE_SEEDING > 0)) && cp "$S"/data/* "$tdir/out/"
    cat >"$tdir/conf/settings.json" <<JSON
{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
 "port-forwarding-enabled": false, "encryption": 0, "bind-address-ipv4": "127.0.0.1",
 "bind-address-ipv6": "::1", "rpc-enabled": true, "rpc-bind-address": "127.0.0.1",
 "rpc-port": $rpc, "rpc-authentication-required": false, "rpc-whitelist-enabled": true,
 "rpc-whitelist": "127.0.0.1", "rpc-host-whitelist-enabled": false, "peer-port": $bt,
 "start-added-torrents": false, "download-dir": "$tdir/out", "incomplete-dir-enabled": false,
 "blocklist-enabled": false, "message-level": 1, "download-queue-enabled": false,
 "seed-queue-enabled": false}
JSON
    transmission-daemon -f -g "$tdir/conf" >"$tdir/daemon.log" 2>&1 &
    local tr_pid=$!
    PIDS+=("$tr_pid")
    wait_listen "$rpc" 30
    t_add=$(now)
    for ((i = 0; i < ${#files[@]}; i += 100)); do
        args=()
        for ((j = i; j < i + 100 && j < ${#files[@]}; j++)); do args+=(-a "${files[j]}"); done
        transmission-remote "127.0.0.1:$rpc" "${args[@]}" >/dev/null
    done
    if ((SCALE_SEEDING > 0)); then
        transmission-remote "127.0.0.1:$rpc" -t "1-$SCALE_SEEDING" -s >/dev/null
    fi
    local tr_seed=0 tr_stop=0 l
    for ((i = 0; i < 3000; i++)); do
        l=$(transmission-remote "127.0.0.1:$rpc" -l)
        tr_seed=$(grep -cE ' (Seeding|Idle) ' <<<"$l" || true)  # Idle: seeding, no peer
        tr_stop=$(grep -c ' Stopped ' <<<"$l" || true)
        ((tr_seed >= SCALE_SEEDING && tr_seed + tr_stop >= SCALE_TORRENTS)) && break
        sleep 1
    done
    log "  transmission-daemon: $tr_seed seeding, $tr_stop stopped after $(awk -v a="$t_add" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}') s"
    log "  settling ${SETTLE}s"
    sleep "$SETTLE"
    local k p t
    for ((k = 1; k <= 5; k++)); do
        p=$(mem_of "$PTD_PID")
        t=$(mem_of "$tr_pid")
        printf 'scale_mem\t%s\t%s\t%s\n' "$PTD_LABEL" "$k" "${p// /$'\t'}" >>"$TSV"
        printf 'scale_mem\ttransmission-daemon\t%s\t%s\n' "$k" "${t// /$'\t'}" >>"$TSV"
        sleep 2
    done
    log "  memory: pytorrentd $p, transmission-daemon $t (VmRSS RssAnon RssFile KiB)"
    stop_pid "$tr_pid" 15
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$tdir"
    local lat
    lat=$(python3 "$POLL" latency "$base" 100)
    printf 'scale_list\t%s\t1\t%s\n' "$PTD_LABEL" "${lat// /$'\t'}" >>"$TSV"
    log "  GET list of $SCALE_TORRENTS rows: p50 p99 max ms = $lat"
    local r t_health rehash
    for ((r = 1; r <= RESTARTS; r++)); do
        stop_pid "$PTD_PID" 30
        ptd_start "$S/ptd" "restart-$r.log"
        t_health=$(python3 "$POLL" health "$base" --t0 "$PTD_T0" --interval 0.01 --timeout 60)
        listed=$(python3 "$POLL" listed "$base" "$SCALE_TORRENTS" --t0 "$PTD_T0" --interval 0.1 --timeout 300)
        rehash=$(grep -c 'Doing initial checksum validation' "$S/ptd/restart-$r.log" || true)
        printf 'scale_restart\t%s\t%s\t%s\t%s\t%s\n' "$PTD_LABEL" "$r" "$t_health" "${listed%% *}" "$rehash" >>"$TSV"
        log "  restart $r: health ${t_health}s, all $SCALE_TORRENTS settled ${listed}, re-hash lines $rehash"
    done
    stop_pid "$PTD_PID" 30
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$S"
    # The live feed with that many torrents and its clients (benches/feed/bench.mjs starts
    # its own daemon; paused torrents only).
    log "  feed: node benches/feed/bench.mjs --torrents $SCALE_TORRENTS --no-active $FEED_ARGS"
    # shellcheck disable=SC2086
    if ! PYTORRENTD_BIN="$PTD_BIN" node "$ROOT/benches/feed/bench.mjs" --torrents "$SCALE_TORRENTS" \
        --no-active $FEED_ARGS --json "$WORK/feed.json" >"$WORK/feed.txt" 2>"$WORK/feed.log"; then
        tail -20 "$WORK/feed.log" >&2
        echo "feed benchmark failed" >&2
        printf 'scale_feed\t%s\t1\t-\t-\t-\tFAIL\n' "$PTD_LABEL" >>"$TSV"
        return 0
    fi
    python3 - "$WORK/feed.json" "$PTD_LABEL" >>"$TSV" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
r = d["runs"][0]["rounds"]
feed = statistics.mean(x["feedN"] for x in r)
p99 = max(l["p99"] for l in d["lats"])
print(f"scale_feed\t{sys.argv[2]}\t1\t{feed:.2f}\t{d['CLIENTS']}\t{p99:.2f}\tok")
PY
    log "  feed: $(tail -1 "$TSV")"
}

for ph in $PHASES; do "phase_$ph"; done
[[ -n "${RESULTS:-}" ]] && cat "$TSV" >>"$RESULTS"

# --- report ---------------------------------------------------------------------------------
echo
echo "## pytorrentd benchmark — $(date -u +%FT%TZ)"
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
            'BEGIN{r=a/b; printf "%s / fastest other (%s): %.2f  (goal >= 1.0 → %s)\n", l, n, r, (r>=1.0?"PASS":"FAIL")}'
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
    awk -v p="$p" -v t="$t" -v pa="$pa" -v ta="$ta" 'BEGIN{printf "pytorrentd / transmission-daemon: VmRSS %.2f, RssAnon %.2f  (goal <= 1.0 → %s)\n", p/t, pa/ta, (p<=t?"PASS":"FAIL")}'
fi
if grep -q '^restart' "$TSV"; then
    echo
    echo "| restart ($N_TORRENTS paused + 1 × ${SIZE_MB} MiB seeding) | SIGTERM → exit s | start → /api/health s | start → all listed in final state s | big torrent | re-hash log lines |"
    echo "|---|---:|---:|---:|---|---:|"
    awk -F'\t' '$1=="restart" {printf "| run %s | %s | %s | %s | %s | %s |\n", $3, $4, $5, $6, $7, $8}' "$TSV"
    m=$(awk -F'\t' '$1=="restart" && $3 ~ /warm/ {print $6}' "$TSV" | median)
    echo
    awk -v m="$m" 'BEGIN{printf "median start → ready (warm cache): %ss (goal < 3 s → %s)\n", m, (m<3?"PASS":"FAIL")}'
    awk -F'\t' '$1=="restartmem" {printf "memory of the restarted daemon after the settle time: VmRSS %.1f MiB, RssAnon %.1f MiB\n", $4/1024, $5/1024}' "$TSV"
fi
echo
echo "raw results: $TSV"
cp "$TSV" "/tmp/ptd-bench-last.tsv" 2>/dev/null || true
echo
echo "## Summary: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $BENCH_MODE mode"
python3 "$HERE/report.py" "$TSV" --mode "$BENCH_MODE" --label "$PTD_LABEL" --size-mb "$SIZE_MB"

