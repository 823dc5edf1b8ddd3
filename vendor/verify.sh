#!/usr/bin/env bash
# Checks that every vendored crate under vendor/ is exactly the crate published on crates.io
# plus the patches in vendor/patches/<crate>/ (applied in name order). Run by CI; run it after
# changing a vendored file, and turn the change into a patch first (see vendor/README.md).
#
#   bash vendor/verify.sh            check
#   bash vendor/verify.sh --print    also print the pristine tree's location (to diff against)
set -euo pipefail
cd "$(dirname "$0")"

# crate version sha256-of-the-.crate-file (the checksum crates.io and Cargo.lock use)
CRATES=(
  "librqbit 9.1.0 4e35a06e481e854f69141928d067406397b3ad7a47bfdc095bc31325f44f5d13"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for entry in "${CRATES[@]}"; do
  read -r name version sum <<<"$entry"
  file="$name-$version.crate"
  cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$file" 2>/dev/null | head -n 1 || true)
  if [ -n "$cached" ]; then
    cp "$cached" "$work/$file"
  else
    curl -fsSL --retry 3 -o "$work/$file" "https://static.crates.io/crates/$name/$file"
  fi
  echo "$sum  $work/$file" | sha256sum -c --quiet - || {
    echo "vendor/verify.sh: $file does not have the published checksum" >&2
    exit 1
  }
  mkdir -p "$work/$name"
  tar -xzf "$work/$file" -C "$work/$name" --strip-components=1
  for p in patches/"$name"/*.patch; do
    [ -e "$p" ] || continue
    patch -s -p1 -d "$work/$name" --no-backup-if-mismatch < "$p" || {
      echo "vendor/verify.sh: $p does not apply to the published $name $version" >&2
      exit 1
    }
  done
  if diff -r "$work/$name" "$name" > "$work/$name.diff"; then
    echo "vendor/$name = crates.io $name $version + $(ls patches/"$name"/*.patch 2>/dev/null | wc -l) patch(es)"
  else
    echo "vendor/$name differs from crates.io $name $version + its patches:" >&2
    cat "$work/$name.diff" >&2
    status=1
  fi
  if [ "${1:-}" = "--print" ]; then
    rm -rf "/tmp/pristine-$name" && cp -r "$work/$name" "/tmp/pristine-$name" && echo "pristine + patches: /tmp/pristine-$name"
  fi
done
exit $status
