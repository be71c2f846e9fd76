#!/usr/bin/env python
"""Where a server's time went: py-spy's raw (collapsed) samples summed per function.

    .venv/bin/python bench/profile_top.py FILE [--top 25] [--idle]

FILE is what `bench/fanout.py --profile FILE` (or `py-spy record --format raw`) wrote: one
line per distinct stack, frames root first separated by ";", then the sample count. Prints
the functions with the most samples of their own (the stack's last frame) and the most
samples with them anywhere on the stack (their callees included), each as a share of the
samples in which the process was busy; a thread waiting in select/epoll or for work is
idle, and left out unless --idle.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

IDLE = re.compile(r"\b(select|poll|epoll_wait|_worker|wait|sleep|get)\b \(")


def frames(stack: str) -> list[str]:
    """`fn (path/to/module.py:12)` → `fn (module.py)`: lines apart, a function is one row."""
    return [re.sub(r" \((?:.*/)?([^/:]+?)(?::\d+)?\)$", r" (\1)", f) for f in stack.split(";")]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--idle", action="store_true", help="count idle samples too")
    args = ap.parse_args()
    own, anywhere = Counter(), Counter()
    busy = idle = 0
    with open(args.file) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            names = frames(stack)
            if not args.idle and IDLE.search(names[-1]):
                idle += n
                continue
            busy += n
            own[names[-1]] += n
            for name in set(names):
                anywhere[name] += n
    print(f"{busy:,} busy samples ({idle:,} idle left out)")
    for title, counter in (("own time", own), ("with callees", anywhere)):
        print(f"\n{title}:")
        for name, n in counter.most_common(args.top):
            print(f"  {n / max(busy, 1):6.1%}  {name[:110]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
