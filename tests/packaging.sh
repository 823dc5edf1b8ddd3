#!/usr/bin/env bash
# Packaging checks (issue "NAS-ready"): the systemd unit verifies and scores, `cargo deb`
# builds a package with the binary, the unit and the env file as a conffile, and installing
# it puts a working `pytorrentd` on PATH. Installs what it needs when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
passed=0
failed=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok: $what"; passed=$((passed + 1)); else echo "FAILED: $what"; failed=$((failed + 1)); fi
}

if ! command -v systemd-analyze >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "systemd-analyze missing: apt-get install systemd" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi
if ! command -v cargo-deb >/dev/null; then
  echo "installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi

score=$(systemd-analyze security --offline=true systemd/pytorrentd.service 2>/dev/null \
  | sed -n 's/.*Overall exposure level for pytorrentd.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security exposure: ${score:-unknown}"
check "exposure score under 3.0" awk -v s="${score:-99}" 'BEGIN { exit !(s < 3.0) }'

cargo build --release --locked --quiet
# Checked before `cargo deb`, which strips the binary it packages.
check "release binary links its hot functions together (packaging/layout)" \
  python3 packaging/layout/check.py target/release/pytorrentd
cargo deb --locked --quiet --output target/debian/pytorrentd.deb >/dev/null
deb=target/debian/pytorrentd.deb
contents=$(dpkg-deb -c "$deb")
check "package holds the binary" grep -q ' ./usr/bin/pytorrentd$' <<<"$contents"
check "package holds the unit" grep -q ' ./usr/lib/systemd/system/pytorrentd.service$' <<<"$contents"
check "package holds the env file" grep -q ' ./etc/pytorrentd/pytorrentd.env$' <<<"$contents"
check "package holds sysusers and tmpfiles" grep -q 'sysusers.d/pytorrentd.conf$' <<<"$contents"
info=$(dpkg-deb -I "$deb")
echo "$info" | sed -n '1,12p'
ctrl=$(mktemp -d)
dpkg-deb -e "$deb" "$ctrl"
check "env file is a conffile" grep -qx '/etc/pytorrentd/pytorrentd.env' "$ctrl/conffiles"
rm -rf "$ctrl"

if [ "$(id -u)" = 0 ]; then
  dpkg -i "$deb" >/dev/null
  check "pytorrentd on PATH" test "$(command -v pytorrentd)" = /usr/bin/pytorrentd
  check "pytorrentd --version runs" sh -c 'pytorrentd --version | grep -q "^pytorrentd "'
  check "service account created" getent passwd pytorrentd
  check "installed unit passes systemd-analyze verify" systemd-analyze verify /usr/lib/systemd/system/pytorrentd.service
  dpkg --purge pytorrentd >/dev/null
else
  echo "FAILED: installing the package needs root (sudo bash tests/packaging.sh)"; failed=$((failed + 1))
fi

echo "packaging: $passed passed, $failed failed"
[ "$failed" = 0 ]
