"""Side by side in slices: the order in which launch.py measures its targets within one round, and the pairing.

On a 2-core VM the machine's speed can swing by 2x within a minute, so two targets measured ~30 s apart are
compared as much with the swing as with each other. With `--slices K` every target's server runs for the whole
round and its n launches are measured in K slices, alternating targets slice by slice (A1 B1 A2 B2 ...): slice k
of one target is compared with slice k of another in the same round, seconds apart. The round's first target
changes from round to round (the order is rotated), so that no target always goes first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Key = tuple[int, int]  # (round number, slice number), both from 1


def slice_sizes(n: int, k: int) -> list[int]:
    """n launches in k slices as equal as can be (the first ones take the remainder); they add up to n."""
    if k < 1 or n < k:
        raise ValueError(f"cannot measure {n} launches in {k} slices")
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def round_order(names: Sequence[str], round_no: int) -> list[str]:
    """The targets of round round_no (from 1), rotated so that round r starts with target r (mod len)."""
    shift = (round_no - 1) % len(names) if names else 0
    return [*names[shift:], *names[:shift]]


def schedule(names: Sequence[str], round_no: int, k: int) -> list[tuple[str, int]]:
    """(target, slice number) in measuring order: all targets' slice 1, then all targets' slice 2, ..."""
    order = round_order(names, round_no)
    return [(name, s) for s in range(1, k + 1) for name in order]


def paired_ratios(ours: dict[Key, float], peer: dict[Key, float]) -> list[float]:
    """ours ÷ peer for every (round, slice) both have (a failed run has no value), in (round, slice) order."""
    return [ours[key] / peer[key] for key in sorted(ours.keys() & peer.keys()) if peer[key]]


def by_round(runs: Iterable[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Summaries of slices grouped by their round, in round order."""
    rounds: dict[int, list[dict[str, Any]]] = {}
    for r in sorted(runs, key=lambda r: (r["round_no"], r["slice_no"])):
        rounds.setdefault(r["round_no"], []).append(r)
    return rounds


def round_totals(runs: Iterable[dict[str, Any]]) -> dict[int, tuple[float, float]]:
    """Per round: (launches/s, tool CPU ms per launch) over all its slices, as if it had been one run:
    successful launches ÷ the slices' summed wall time, the tools' summed CPU ÷ successful launches. A round of
    one slice keeps its run's own figures."""
    out = {}
    for round_no, slices in by_round(runs).items():
        if len(slices) == 1:
            one = slices[0]
            out[round_no] = (one["launches_per_s"], one["sampled"]["tool_cpu_ms_per_launch"])
            continue
        ok = sum(r["ok"] for r in slices)
        wall = sum(r["wall_s"] for r in slices)
        cpu = sum(r["sampled"]["tool_cpu"] for r in slices)
        out[round_no] = (round(ok / wall, 2) if wall > 0 else 0.0, round(1000 * cpu / max(1, ok), 2))
    return out
