#!/usr/bin/env bash
# SHA-1 backend micro-benchmark (`rust-tls` unless OpenSSL SHA-1 is faster; docs/bench-download.md).
# Builds a standalone cargo project OUTSIDE the repo (needs crates.io) and hashes SIZE_MB
# MiB (default 1024) in 1 MiB pieces, one hasher per piece, with:
#   crypto-hash 0.3 (OpenSSL)  — what librqbit's `default-tls` / `sha1-crypto-hash` uses
#   aws-lc-rs                   — what librqbit's `rust-tls` / `sha1-ring` uses (despite the name)
#   ring 0.17, openssl 0.10 direct, sha1 0.10 (RustCrypto) — for reference
# Best of ROUNDS (default 5) rounds; REPEAT (default 3) process runs. Usage:
#   benches/download/sha1bench.sh [DIR=/tmp/sha1bench]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${1:-/tmp/sha1bench}
mkdir -p "$DIR/src"
cp "$HERE/sha1bench/Cargo.toml.in" "$DIR/Cargo.toml"
cp "$HERE/sha1bench/main.rs" "$DIR/src/main.rs"
(cd "$DIR" && cargo build --release -q)
for ((i = 1; i <= ${REPEAT:-3}; i++)); do
    echo "--- run $i"
    "$DIR/target/release/sha1bench"
done
