#!/usr/bin/env bash
# Runs one or all fuzz targets for a given time each, one after the other, then minimizes
# each corpus. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (default: 600 s each, every target)
# Findings land in fuzz/artifacts/<target>/, the libFuzzer output in fuzz/logs/<target>.log;
# one summary line per target is printed (docs/reliability.md, "Fuzzing", records them).
# Built without a sanitizer (the crate forbids unsafe code) but with debug assertions, so
# integer overflows panic.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(torrent magnet multipart request_headers config)
cargo +nightly fuzz build -s none
mkdir -p logs

# Keeps a smallest set of inputs that still covers every edge the corpus reaches (edges only,
# not hit counts: a few hundred files per target instead of thousands), so that the committed
# corpus stays small.
minimize() {
  local t=$1 out
  out=$(mktemp -d)
  if "target/x86_64-unknown-linux-gnu/release/$t" -set_cover_merge=1 -use_counters=0 \
    "$out" "corpus/$t" >"logs/$t.minimize.log" 2>&1; then
    rm -rf "corpus/$t"
    mv "$out" "corpus/$t"
  else
    rm -rf "$out"
    echo "$t: minimizing failed, corpus kept as is (logs/$t.minimize.log)" >&2
  fi
}
for t in "${targets[@]}"; do
  dict=()
  [ "$t" = torrent ] && dict=(-dict=dict/bencode.dict)
  mkdir -p "corpus/$t" "artifacts/$t"
  log="logs/$t.log"
  echo "== $t: ${secs}s"
  start=$(date +%s)
  set +e
  cargo +nightly fuzz run -s none "$t" "corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    "${dict[@]}" >"$log" 2>&1
  rc=$?
  set -e
  end=$(date +%s)
  execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 || true)
  findings=$(find "artifacts/$t" -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' | wc -l)
  echo "$t: exit=$rc seconds=$((end - start)) execs=$execs ${cov} findings=$findings"
  minimize "$t"
  echo "$t: corpus after minimizing: $(ls "corpus/$t" | wc -l) files, $(du -sh --apparent-size "corpus/$t" | cut -f1)"
done
