"""Summarise py-spy raw (collapsed) profiles of the tool's workers: where the launch time goes.

    py-spy record -p WORKER_PID -d 20 -r 200 -f raw -o /tmp/w1.txt --nonblocking   (one per worker)
    python bench/spy_summary.py /tmp/w1.txt /tmp/w2.txt [--top 40] [--match lti_tool/]

Prints, over all given files: samples per view (the first frame under Flask.dispatch_request), inclusive %
per function (each function counted once per stack), and self % (leaf frames). Percentages are of all
samples, which py-spy takes only while a thread is running (no --idle), i.e. of the CPU-ish time.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+)(?::\d+)?\)$")


def parse(line: str) -> tuple[list[tuple[str, str]], int]:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    frames = []
    for raw in stack.split(";"):
        m = FRAME.match(raw)
        frames.append((m["func"], m["file"]) if m else (raw, ""))
    return frames, int(count)


def short(func: str, file: str) -> str:
    for marker in ("site-packages/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{file}:{func}" if file else func


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--match", default="", help="only list functions whose file contains this text")
    args = ap.parse_args(argv)
    total = 0
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    views: Counter[str] = Counter()
    for path in args.files:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                frames, count = parse(line)
                total += count
                seen = set()
                for func, file in frames:
                    name = short(func, file)
                    if name not in seen:
                        seen.add(name)
                        inclusive[name] += count
                leaf[short(*frames[-1])] += count
                names = [f for f, _ in frames]
                if "Flask.dispatch_request" in names:
                    i = names.index("Flask.dispatch_request")
                    view = short(*frames[i + 1]) if i + 1 < len(frames) else "(dispatch)"
                elif "Flask.full_dispatch_request" in names:
                    view = "(flask before/after request, outside the view)"
                elif "Flask.wsgi_app" in names:
                    view = "(flask request setup/teardown)"
                else:
                    view = "(outside flask: gunicorn, idle loops)"
                views[view] += count
    if not total:
        print("no samples")
        return 1

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    print(f"{total} samples")
    print("\n== by view ==")
    for name, n in views.most_common():
        print(f"{pct(n)}  {name}")
    print(f"\n== inclusive (top {args.top}{', matching ' + args.match if args.match else ''}) ==")
    shown = 0
    for name, n in inclusive.most_common():
        if args.match and args.match not in name:
            continue
        print(f"{pct(n)}  {name}")
        shown += 1
        if shown >= args.top:
            break
    print(f"\n== self (top {args.top}) ==")
    for name, n in leaf.most_common(args.top):
        print(f"{pct(n)}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
