#!/usr/bin/env python3
"""Checks that a linked pytorrentd has the functions of hot-functions.txt together.

    packaging/layout/check.py target/release/pytorrentd [packaging/layout/hot-functions.txt]

Prints how many of the listed functions the binary has and how far apart they lie, and exits 1
when they are spread out (the ordered link did not happen) or when fewer than half are found
(the list is outdated: run packaging/layout/record.sh). Needs the binary's symbol table (a
release build before `strip`).
"""
import os
import re
import subprocess
import sys

binary = sys.argv[1]
listed = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "hot-functions.txt")


def key(s):
    s = re.sub(r"\.llvm\.[0-9]+$", "", s)
    s = re.sub(r"17h[0-9a-f]+E$", "E", s)
    return re.sub(r"Cs[0-9A-Za-z]+_", "Cs_", s)


symbols = {}
for line in subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    p = line.split()
    if len(p) == 4 and p[2] in "tTwW":
        symbols[p[3]] = (int(p[0], 16), int(p[1], 16))
if not symbols:
    sys.exit(f"{binary}: no symbol table (stripped?)")
by_key = {}
for name, v in symbols.items():
    by_key.setdefault(key(name), []).append(v)

wanted = [l.strip() for l in open(listed) if l.strip() and not l.startswith("#")]
found = []
for name in wanted:
    if name in symbols:
        found.append(symbols[name])
    else:
        found.extend(by_key.get(key(name), []))
found = sorted(set(found))
if len(found) < len(wanted) / 2:
    print(f"only {len(found)} of {len(wanted)} listed functions are in {binary}: "
          "refresh the list with packaging/layout/record.sh")
    sys.exit(1)
code = sum(size for _, size in found)
# The span holding 95 % of them: a few functions the linker cannot move (in their own
# sections with other code) may sit elsewhere.
addrs = [a for a, _ in found]
cut = int(len(addrs) * 0.025)
span = addrs[len(addrs) - 1 - cut] - addrs[cut]
text = sum(size for _, size in symbols.values())
print(f"{len(found)} of {len(wanted)} listed functions found, {code / 2**20:.1f} MiB of code; "
      f"95 % of them within {span / 2**20:.1f} MiB (all functions: {text / 2**20:.1f} MiB)")
if span > 1.5 * code + 2**20:
    print("the listed functions are spread over the binary: the ordered link did not happen "
          "(packaging/layout/README.md)")
    sys.exit(1)
