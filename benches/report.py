#!/usr/bin/env python3
"""The summary of benches/run.sh: one table of ratios, pytorrentd / each anchor, set against
the goals of BENCHMARKS.md ("Goals"), from the raw TSV the run wrote (stdlib only).

    python3 benches/report.py RESULTS.tsv [--mode full|small] [--label pytorrentd]

Exit status: 1 when a run failed (wrong bytes, timeout, a phase that produced nothing) in
any mode, or when a goal is missed in full mode; 0 otherwise. Small mode (CI) only checks
that every phase works: its figures come from a 64 MiB payload on a busy machine and are
printed, not judged.
"""
import argparse
import statistics
import sys
from collections import defaultdict

GIB = 1 << 30


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--label", default="pytorrentd")
    ap.add_argument("--size-mb", type=float, default=1024)
    a = ap.parse_args()
    me = a.label
    rows = defaultdict(list)  # phase -> [fields...]
    with open(a.tsv) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p and p[0]:
                rows[p[0]].append(p)

    failures = []  # runs that did not work
    lines = []  # (measure, pytorrentd, anchor, ratio text, goal text, verdict)

    def judge(measure, ours, anchor, ratio, goal, ok):
        verdict = "-" if ok is None else ("met" if ok else "MISSED")
        lines.append((measure, ours, anchor, ratio, goal, verdict))

    # --- transfers: download, upload, many (time per round; ratio = anchor time / our time,
    # i.e. our speed / theirs, median over the rounds where both finished) ---
    for phase in ("download", "upload", "many"):
        runs = defaultdict(dict)  # name -> round -> (seconds, cpu, rss)
        for r in rows.get(phase, []):
            name, rnd, secs, ok = r[1], r[2], num(r[3]), r[6]
            if ok != "ok":
                failures.append(f"{phase} {name} round {rnd}: {ok}")
                continue
            runs[name][rnd] = (secs, num(r[7]) if len(r) > 7 else None,
                               num(r[8]) if len(r) > 8 else None)
        if not rows.get(phase):
            continue
        if me not in runs:
            failures.append(f"{phase}: no successful run of {me}")
            continue
        mine = runs[me]
        for other in sorted(n for n in runs if n != me):
            common = sorted(set(mine) & set(runs[other]))
            if not common:
                continue
            speed = statistics.median(runs[other][k][0] / mine[k][0] for k in common)
            ours = statistics.median(mine[k][0] for k in common)
            theirs = statistics.median(runs[other][k][0] for k in common)
            goal, ok = "", None
            if phase == "download" and other == "qbittorrent":
                goal, ok = ">= 1.05", speed >= 1.05
            elif phase == "download" and other == "rqbit":
                goal, ok = ">= 1.30", speed >= 1.30
            elif phase in ("upload", "many") and other == "qbittorrent":
                goal, ok = ">= 1.00", speed >= 1.0
            what = {"download": "download 1 file", "upload": "upload (seeding to qBittorrent)",
                    "many": "many torrents at once"}[phase]
            judge(f"{what}: speed vs {other}", f"{ours:.2f} s", f"{theirs:.2f} s",
                  f"{speed:.2f}", goal, ok)
            cpus = [(mine[k][1], runs[other][k][1]) for k in common
                    if mine[k][1] and runs[other][k][1]]
            if cpus and phase == "download":
                gib = a.size_mb / 1024
                c_me = statistics.median(c[0] for c in cpus) / gib
                c_ot = statistics.median(c[1] for c in cpus) / gib
                goal, ok = ("", None)
                if other == "qbittorrent":
                    goal, ok = "<= 1.00", c_me <= c_ot
                judge(f"{what}: CPU s per GiB vs {other}", f"{c_me:.2f}", f"{c_ot:.2f}",
                      f"{c_me / c_ot:.2f}", goal, ok)
        if phase == "download":
            rss = [v[2] for v in mine.values() if v[2]]
            if rss:
                peak = max(rss) / 1024
                judge("download: peak RSS of pytorrentd (MiB)", f"{peak:.1f}", "-", "-",
                      "< 64 MiB", peak < 64)

    # --- memory with N paused torrents, and at scale ---
    for phase, label, limit in (("memory", "paused torrents (memory phase)", 1.0),
                                ("scale_mem", "torrents (scale phase)", 2.0)):
        m = defaultdict(list)
        for r in rows.get(phase, []):
            m[r[1]].append(num(r[3]))
        if not rows.get(phase):
            continue
        if not m.get(me) or not m.get("transmission-daemon"):
            failures.append(f"{phase}: samples missing")
            continue
        p = statistics.median(m[me]) / 1024
        t = statistics.median(m["transmission-daemon"]) / 1024
        judge(f"VmRSS with {label} vs transmission-daemon", f"{p:.1f} MiB", f"{t:.1f} MiB",
              f"{p / t:.2f}", f"<= {limit:.2f}", p / t <= limit)

    # --- restart (memory-phase torrents + 1 seeding) ---
    warm = [num(r[5]) for r in rows.get("restart", []) if "warm" in r[2]]
    if rows.get("restart"):
        if not all(warm):
            failures.append("restart: a restart did not settle")
        else:
            med = statistics.median(warm)
            judge("restart to all rows settled (memory-phase torrents)", f"{med:.2f} s", "-",
                  "-", "< 3 s", med < 3)
    # --- scale ---
    for r in rows.get("scale_list", []):
        p99 = num(r[4])
        judge("scale: GET list p99", f"{p99:.1f} ms", "-", "-", "< 50 ms", p99 < 50)
    sr = rows.get("scale_restart", [])
    if sr:
        settled = [num(r[4]) for r in sr]
        rehash = sum(int(r[5]) for r in sr)
        if not all(settled):
            failures.append("scale: a restart did not settle")
        else:
            med = statistics.median(settled)
            judge("scale: restart to all rows settled", f"{med:.2f} s", "-", "-",
                  "< 10 s, no re-hash", med < 10 and rehash == 0)
    for r in rows.get("scale_feed", []):
        if r[6] != "ok":
            failures.append("scale: the feed benchmark failed")
            continue
        judge(f"scale: feed CPU with {r[4]} clients", f"{num(r[3]):.2f} % of a core", "-", "-",
              "< 5 %", num(r[3]) < 5)

    full = a.mode == "full"
    print()
    print(f"| measure | {me} | anchor | ratio ({me} / anchor) | goal | verdict |")
    print("|---|---:|---:|---:|---|---|")
    for measure, ours, anchor, ratio, goal, verdict in lines:
        if not full and verdict != "-":
            verdict = f"({verdict}; not judged in {a.mode} mode)"
        print(f"| {measure} | {ours} | {anchor} | {ratio} | {goal} | {verdict} |")
    print()
    for f in failures:
        print(f"FAILED: {f}")
    missed = [l for l in lines if l[5] == "MISSED"]
    if full:
        print(f"goals: {sum(1 for l in lines if l[5] == 'met')} met, {len(missed)} missed")
    if failures or (full and missed):
        sys.exit(1)


if __name__ == "__main__":
    main()
