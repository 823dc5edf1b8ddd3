#!/usr/bin/env bash
# Builds the pytorrentd variants that docs/bench-download.md compares, each in a copy of the
# repo under /tmp (the repo's own Cargo.toml and src/ are never touched), then runs benches/run.sh
# with them as extra leechers.
#
#   benches/download/variants.sh            # build both, then run the download phase
#   BUILD_ONLY=1 benches/download/variants.sh
#
# Variants (wrappers in $OUT that set env and exec a binary):
#   openssl        librqbit `default-tls` + librqbit-core `sha1-crypto-hash` (OpenSSL SHA-1)
#                  instead of `rust-tls` + `sha1-ring` (aws-lc-rs SHA-1)
#   tuned          experiments/pytorrentd-experiment-knobs.patch with
#                  PTD_EXP_WAKE_ON_INIT=1 PTD_EXP_MAX_REQ_WINDOW=512 (config only)
#   tuned+patch    the same plus experiments/librqbit-9.1.0-inline-chunk-write.patch with
#                  PTD_EXP_INLINE=write (chunk writes without block_in_place)
#   ct             tuned, on a current-thread tokio runtime (PTD_EXP_CURRENT_THREAD=1)
# Needs network access to crates.io for the builds (the benchmark itself runs offline).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-/tmp/ptd-variants}
mkdir -p "$OUT"

copy_repo() { # copy_repo DEST — working tree without target/ (seeded from target/release)
    rm -rf "$1"; mkdir -p "$1"
    tar -C "$ROOT" --exclude=./target --exclude=./ui/node_modules -cf - . | tar -C "$1" -xf -
    if [[ -d "$ROOT/target/release" ]]; then mkdir -p "$1/target" && cp -a "$ROOT/target/release" "$1/target/"; fi
}

# --- OpenSSL SHA-1 -------------------------------------------------------------------------
copy_repo "$OUT/openssl"
sed -i 's/^librqbit = .*/librqbit = { version = "9.1", default-features = false, features = ["default-tls"] }/;
        s/^librqbit-core = .*/librqbit-core = { version = "9.1", default-features = false, features = ["sha1-crypto-hash"] }/' \
    "$OUT/openssl/Cargo.toml"
grep -n '^librqbit' "$OUT/openssl/Cargo.toml"
(cd "$OUT/openssl" && cargo build --release --bin pytorrentd)

# --- experiment knobs + patched librqbit ---------------------------------------------------
copy_repo "$OUT/knobs"
(cd "$OUT/knobs" && cargo fetch -q)
REG=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/librqbit-9.1.0 | head -1)
rm -rf /tmp/librqbit-patched && cp -r "$REG" /tmp/librqbit-patched
patch -d /tmp/librqbit-patched -p1 <"$HERE/experiments/librqbit-9.1.0-inline-chunk-write.patch"
patch -d "$OUT/knobs" -p1 <"$HERE/experiments/pytorrentd-experiment-knobs.patch"
(cd "$OUT/knobs" && cargo build --release --bin pytorrentd)

wrap() { printf '#!/bin/sh\n%s exec %s "$@"\n' "$2" "$3" >"$OUT/$1"; chmod +x "$OUT/$1"; }
K="$OUT/knobs/target/release/pytorrentd"
wrap openssl "" "$OUT/openssl/target/release/pytorrentd"
wrap tuned "PTD_EXP_WAKE_ON_INIT=1 PTD_EXP_MAX_REQ_WINDOW=512" "$K"
wrap tuned+patch "PTD_EXP_INLINE=write PTD_EXP_WAKE_ON_INIT=1 PTD_EXP_MAX_REQ_WINDOW=512" "$K"
wrap ct "PTD_EXP_CURRENT_THREAD=1 PTD_EXP_WAKE_ON_INIT=1 PTD_EXP_MAX_REQ_WINDOW=512" "$K"
VARIANTS="ptd-openssl=$OUT/openssl ptd-tuned=$OUT/tuned ptd-tuned+patch=$OUT/tuned+patch ptd-ct=$OUT/ct"
echo "PTD_VARIANTS=\"$VARIANTS\""
[[ "${BUILD_ONLY:-0}" == 1 ]] && exit 0
PHASES=${PHASES:-download} PTD_VARIANTS="$VARIANTS" exec "$ROOT/benches/run.sh"
