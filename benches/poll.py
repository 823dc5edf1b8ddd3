#!/usr/bin/env python3
"""Progress poller for benches/run.sh (stdlib only).

Polls one BitTorrent client every INTERVAL seconds over one persistent connection and
prints `first_mib_s done_s` (seconds after --t0, the moment the add was issued), or
`- -` on timeout. Kinds:

  ptd   BASE HASH              pytorrentd  GET BASE/api/torrents/HASH  (downloaded, progress)
  qbit  BASE HASH              qBittorrent GET BASE/api/v2/torrents/info?hashes=HASH
  aria2 RPC_URL DONE_FILE      aria2c JSON-RPC tellActive; done = DONE_FILE written by
                               --on-bt-download-complete (or completedLength == total)
  trcli LOG_FILE DONE_FILE     transmission-cli: its '\r'-separated status lines in LOG_FILE
                               ("Progress: 12.3%"), done = DONE_FILE written by its -f script
  health BASE                  prints seconds until GET BASE/api/health answers 200
  listed BASE N                prints seconds until GET BASE/api/profiles/default/torrents
                               lists N rows, none of them initializing/checking
  ptdall BASE N                pytorrentd: done when the default profile lists N rows, all
                               complete; bytes = sum of `downloaded`
  qbitall BASE N               qBittorrent: the same over torrents/info
  run DIR -- CMD ARGS...       starts a one-shot client (rqbit download) itself; bytes = the
                               blocks allocated under DIR, done = the client exits with status
                               0; prints a third field, the client's CPU seconds (rusage)
  latency BASE N               N sequential GETs of BASE/api/profiles/default/torrents on
                               one keep-alive connection (after 5 warm-ups); prints
                               `p50_ms p99_ms max_ms`

--rss-pid PID    also track the peak VmRSS of PID; printed as the last field (KiB)

--pid PID        stop waiting (and print `- -`) when process PID has exited
--kick URL DATA  POSTs DATA (form-encoded) to URL right away and every 5 s until the first
                 MiB arrives (used to make the qBittorrent seeder dial transmission/aria2c).
"""
import argparse
import http.client
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

MIB = 1 << 20


class Conn:
    """A keep-alive HTTP connection that reconnects on error."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.c = None

    def req(self, method, path, body=None, headers=None):
        for _ in range(2):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=5)
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                try:
                    if self.c:
                        self.c.close()
                finally:
                    self.c = None
        return None, b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind")
    ap.add_argument("args", nargs="*")
    ap.add_argument("--t0", type=float, default=time.time())
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--kick", nargs=2, metavar=("URL", "DATA"))
    ap.add_argument("--pid", type=int, help="give up when this process is gone")
    ap.add_argument("--rss-pid", type=int, help="track this process's peak VmRSS")
    argv = sys.argv[1:]
    cmd = []
    if "--" in argv:  # `run DIR -- CMD ARGS...`
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1:]
    a = ap.parse_args(argv)
    peak_rss = 0

    def sample_rss():
        nonlocal peak_rss
        if a.rss_pid:
            try:
                with open(f"/proc/{a.rss_pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            peak_rss = max(peak_rss, int(line.split()[1]))
            except OSError:
                pass

    def finish(*fields):
        if a.rss_pid:
            fields = fields + (str(peak_rss),)
        print(" ".join(fields))

    if a.kind == "latency":
        conn = Conn(a.args[0])
        times = []
        for i in range(int(a.args[1]) + 5):
            t = time.perf_counter()
            st, body = conn.req("GET", "/api/profiles/default/torrents",
                                headers={"Accept-Encoding": "identity"})
            if st != 200:
                sys.exit(f"list answered {st}")
            if i >= 5:
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        pct = lambda q: times[min(len(times) - 1, int(round(q / 100 * len(times) + 0.5)) - 1)]
        print(f"{pct(50):.2f} {pct(99):.2f} {times[-1]:.2f}")
        return

    child = None
    if a.kind == "run":
        import subprocess
        log = open(os.path.join(a.args[0], "..", "client.log"), "wb")
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        a.rss_pid = a.rss_pid or child.pid
    t0 = a.t0
    deadline = time.time() + a.timeout
    first = done = None
    last_kick = 0.0
    tr_pos = 0
    tr_buf = b""

    conn = (Conn(a.args[0]) if a.kind in ("ptd", "qbit", "aria2", "health", "listed", "ptdall",
                                          "qbitall") else None)

    def kick():
        nonlocal last_kick
        if a.kick and first is None and time.time() - last_kick >= 5:
            last_kick = time.time()
            try:
                urllib.request.urlopen(a.kick[0], data=a.kick[1].encode(), timeout=5).read()
            except OSError:
                pass

    while time.time() < deadline:
        gone = a.pid and not os.path.exists(f"/proc/{a.pid}")
        kick()
        now = time.time()
        got = None  # bytes downloaded so far
        if a.kind == "ptd":
            st, body = conn.req("GET", f"/api/torrents/{a.args[1]}")
            if st == 200:
                j = json.loads(body)
                got = j.get("downloaded", 0)
                if j.get("progress", 0) >= 1.0 or j.get("state") == "seeding":
                    done = done or now
        elif a.kind == "qbit":
            st, body = conn.req("GET", f"/api/v2/torrents/info?hashes={a.args[1]}")
            if st == 200 and body.strip() not in (b"", b"[]"):
                j = json.loads(body)[0]
                got = max(j.get("completed", 0), j.get("downloaded", 0))
                if j.get("progress", 0) >= 1.0:
                    done = done or now
        elif a.kind == "aria2":
            if os.path.exists(a.args[1]):
                done = done or os.path.getmtime(a.args[1])
            rpc = json.dumps({"jsonrpc": "2.0", "id": "1", "method": "aria2.tellActive",
                              "params": [["completedLength", "totalLength"]]})
            st, body = conn.req("POST", "/jsonrpc", rpc, {"Content-Type": "application/json"})
            if st == 200:
                res = json.loads(body).get("result") or []
                if res:
                    got = int(res[0]["completedLength"])
                    if int(res[0]["totalLength"]) and got >= int(res[0]["totalLength"]):
                        done = done or now
        elif a.kind == "trcli":
            if os.path.exists(a.args[0]):
                with open(a.args[0], "rb") as f:
                    f.seek(tr_pos)
                    chunk = f.read()
                tr_pos += len(chunk)
                tr_buf += chunk
                for m in re.finditer(rb"Progress: ([0-9.]+)%", tr_buf):
                    got = float(m.group(1)) / 100 * a.size
                tr_buf = tr_buf[-200:]
            if os.path.exists(a.args[1]) and os.path.getsize(a.args[1]) > 0:
                with open(a.args[1]) as f:
                    done = done or float(f.read().split()[0])
        elif a.kind == "ptdall":
            st, body = conn.req("GET", "/api/profiles/default/torrents")
            if st == 200:
                rows = json.loads(body)
                rows = rows.get("torrents", rows) if isinstance(rows, dict) else rows
                got = sum(r.get("downloaded", 0) for r in rows)
                if len(rows) >= int(a.args[1]) and all(
                        r.get("progress", 0) >= 1.0 or r.get("state") == "seeding" for r in rows):
                    done = done or now
        elif a.kind == "qbitall":
            st, body = conn.req("GET", "/api/v2/torrents/info")
            if st == 200:
                rows = json.loads(body)
                got = sum(max(r.get("completed", 0), r.get("downloaded", 0)) for r in rows)
                if len(rows) >= int(a.args[1]) and all(r.get("progress", 0) >= 1.0 for r in rows):
                    done = done or now
        elif a.kind == "run":
            got = 0
            for root, _, files in os.walk(a.args[0]):
                for fn in files:
                    try:
                        got += os.stat(os.path.join(root, fn)).st_blocks * 512
                    except OSError:
                        pass
            if child.poll() is not None:
                if child.returncode != 0:
                    break
                done = done or now
        elif a.kind == "health":
            st, _ = conn.req("GET", "/api/health")
            if st == 200:
                print(f"{now - t0:.3f}")
                return
        elif a.kind == "listed":
            st, body = conn.req("GET", "/api/profiles/default/torrents")
            if st == 200:
                rows = json.loads(body)
                rows = rows.get("torrents", rows) if isinstance(rows, dict) else rows
                if len(rows) >= int(a.args[1]) and not any(
                        r["state"] in ("initializing", "checking") for r in rows):
                    counts = {}
                    for r in rows:
                        counts[r["state"]] = counts.get(r["state"], 0) + 1
                    print(f"{now - t0:.3f} {json.dumps(counts, separators=(',', ':'))}")
                    return
        else:
            sys.exit(f"unknown kind {a.kind}")
        sample_rss()
        if got is not None and got >= MIB and first is None:
            first = now
        if done is not None:
            first = first or done
            extra = ()
            if child is not None:
                import resource  # the only child, already reaped by poll()
                ru = resource.getrusage(resource.RUSAGE_CHILDREN)
                extra = (f"{ru.ru_utime + ru.ru_stime:.2f}",)
            finish(f"{first - t0:.3f}", f"{done - t0:.3f}", *extra)
            return
        if gone:  # the client exited before finishing (checked after one last poll)
            break
        time.sleep(a.interval)
    if child is not None:
        if child.poll() is None:
            child.kill()
        child.wait()
        finish("-", "-", "-")
        return
    finish("-", "-")


if __name__ == "__main__":
    main()
