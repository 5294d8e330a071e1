"""The paired ratios of several `bench/launch.py` runs taken together: how sure a verdict "ours ≥ the peer" is.

    /work/main/.venv/bin/python bench/paired_pool.py bench/results/launch-A.json bench/results/launch-B.json …

On a machine whose speed drifts (the 2-core machines here: the same code measured twice as fast a minute later),
one run's median of six paired rounds moves by ±0.1 from run to run, more than the differences worth knowing.
This pools the rounds (or slices) of every run given, per ours/peer pair, and prints for launches/s (>1 = ours
faster) and tool CPU per launch (<1 = ours cheaper):
- n: paired rounds or slices pooled; ahead: in how many of them ours did better (launches/s above, CPU below 1);
- the median ratio and a 90 % interval of it (bootstrap: the pooled pairs resampled with replacement, 10,000
  times, with a fixed seed so that the same files print the same figures);
- sign p: the two-sided sign test of "ours does better in half of the pairs" (exact binomial): below 0.05, the
  pairs lean one way more than chance would make them.
Runs taken with different settings (n, c, targets' forms) should not be pooled; the script prints each file's
command so that a reader can check.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESAMPLES = 10_000
LEVEL = 0.90


def pooled(results: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, list[float]]]:
    """Per (ours, peer) pair, every run's paired ratios, in the order of the files."""
    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    for result in results:
        for pair in result.get("paired", []):
            into = out.setdefault((pair["ours"], pair["peer"]), {"lps": [], "cpu": []})
            into["lps"].extend(float(x) for x in pair["lps"])
            into["cpu"].extend(float(x) for x in pair["cpu"])
    return out


def median_interval(values: Sequence[float], *, seed: int = 0) -> tuple[float, float]:
    """A LEVEL bootstrap interval (percentile method) of the median of `values`."""
    rng = random.Random(seed)
    k = len(values)
    medians = sorted(statistics.median(rng.choices(values, k=k)) for _ in range(RESAMPLES))
    tail = (1 - LEVEL) / 2
    return medians[int(tail * RESAMPLES)], medians[min(RESAMPLES - 1, int((1 - tail) * RESAMPLES))]


def sign_test(ahead: int, behind: int) -> float:
    """Two-sided exact binomial p of `ahead` successes in `ahead + behind` trials at one half (ties left out)."""
    n = ahead + behind
    if n == 0:
        return 1.0
    low = min(ahead, behind)
    tail = sum(math.comb(n, i) for i in range(low + 1)) / 2**n
    return min(1.0, 2 * tail)


def summary(values: Sequence[float], *, better_above: bool) -> dict[str, Any]:
    ahead = sum(1 for v in values if (v > 1 if better_above else v < 1))
    behind = sum(1 for v in values if (v < 1 if better_above else v > 1))
    low, high = median_interval(values)
    return {
        "n": len(values),
        "ahead": ahead,
        "median": statistics.median(values),
        "interval": (low, high),
        "sign_p": sign_test(ahead, behind),
    }


def report(files: Sequence[Path]) -> str:
    results = [json.loads(path.read_text()) for path in files]
    lines = [f"{len(files)} run(s):"]
    lines += [
        f"  {path.name}: {result.get('command', '?')}" for path, result in zip(files, results, strict=True)
    ]
    lines.append("")
    lines.append(
        f"{'ours ÷ peer':40} {'':4} {'n':>4} {'ahead':>6} {'median':>7} {f'{LEVEL:.0%} interval':>15} {'sign p':>7}"
    )
    for (ours, peer), ratios in pooled(results).items():
        for name, better_above in (("lps", True), ("cpu", False)):
            values = ratios[name]
            if not values:
                continue
            s = summary(values, better_above=better_above)
            low, high = s["interval"]
            lines.append(
                f"{ours + ' ÷ ' + peer:40} {name:4} {s['n']:>4} {s['ahead']:>6} {s['median']:>7.2f} "
                f"{f'{low:.2f}-{high:.2f}':>15} {s['sign_p']:>7.3f}"
            )
    lines.append("")
    lines.append(
        "lps = launches/s (ahead: ratio > 1); cpu = tool CPU per launch (ahead: ratio < 1); interval: bootstrap of "
        "the median over the pooled pairs; sign p: two-sided sign test (ties left out)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "files", nargs="+", type=Path, help="JSON results of bench/launch.py (bench/results/launch-*.json)"
    )
    args = ap.parse_args(argv)
    print(report(args.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
