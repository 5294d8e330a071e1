"""What a web worker's Python memory grew by between two tracemalloc snapshots of bench/gunicorn_memdebug.conf.py.

    .venv/bin/python bench/tracemalloc_diff.py DIR/1234-00060.snap DIR/1234-00600.snap [--top 25] [--by traceback]

Prints the total traced memory of each, then the largest growths grouped by line (default), by file, or by the
whole traceback (the frames the tracing kept), leaving out tracemalloc's own allocations.
"""

from __future__ import annotations

import argparse
import tracemalloc


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--by", choices=("lineno", "filename", "traceback"), default="lineno")
    args = parser.parse_args()
    keep_out = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")]
    old = tracemalloc.Snapshot.load(args.old).filter_traces(keep_out)
    new = tracemalloc.Snapshot.load(args.new).filter_traces(keep_out)
    total = [sum(s.size for s in snap.statistics("filename")) / 2**20 for snap in (old, new)]
    print(f"traced: {total[0]:.1f} MB -> {total[1]:.1f} MB ({total[1] - total[0]:+.2f} MB)")
    for stat in new.compare_to(old, args.by)[: args.top]:
        print(
            f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.size / 1024:9.1f} KiB now"
        )
        lines = stat.traceback.format(limit=None if args.by == "traceback" else 1, most_recent_first=True)
        for line in lines[: 24 if args.by == "traceback" else 2]:
            print("      " + line.strip())


if __name__ == "__main__":
    main()
