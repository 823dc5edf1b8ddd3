#!/usr/bin/env bash
# The qBittorrent Web API v2 tests (docs/qbittorrent.md), driven by the published clients
# qbittorrent-api and python-qbittorrent (PyPI, pinned in requirements.txt, installed into a
# cached venv: the only download, done before any test runs).
#
# Usage: tests/qbittorrent/run.sh [unittest arguments]
#   QBT_TARGET=pytorrentd   (default) the daemon binary, PYTORRENTD_BIN or target/debug/pytorrentd
#   QBT_TARGET=qbittorrent  the same tests against a real qbittorrent-nox, as the reference
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/pytorrentd/qbittorrent-venv"

python3 -m venv --help >/dev/null 2>&1 || { echo "python3 venv missing: apt-get install python3-venv" >&2; exit 1; }
req="$here/requirements.txt"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$want" ]; then
  echo "installing the qBittorrent API clients into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req"
  echo "$want" >"$venv/.requirements"
fi
if [ "${QBT_TARGET:-pytorrentd}" = pytorrentd ] && [ ! -x "${PYTORRENTD_BIN:-$root/target/debug/pytorrentd}" ]; then
  (cd "$root" && cargo build --locked)
fi
cd "$here"
exec "$venv/bin/python" -m unittest -v test_qbit_api "$@"
