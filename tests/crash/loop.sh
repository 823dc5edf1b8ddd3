#!/usr/bin/env bash
# The crash loop (docs/reliability.md): CYCLES rounds of `kill -9` at a random moment during
# concurrent bursts of adds, deletes, label changes and profile moves, each followed by a
# restart and a consistency check (acknowledged changes kept, deletions stay deleted, nothing
# half present, no 5xx, time to serve again). CI runs 10 cycles; the documented run is 100.
#
#   tests/crash/loop.sh [CYCLES]          default 10
#   CRASH_SEED=N         replay a run (the seed is printed)
#   CRASH_WORKERS=N      concurrent clients (default 8)
#   CRASH_REPORT=f.csv   one line per cycle
#   PYTORRENTD_BIN=path  another binary (e.g. target/release/pytorrentd)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CRASH_CYCLES="${1:-10}"
exec cargo test --locked --test it crash::crash_loop -- --ignored --exact --nocapture
