"""bench/launch.py side by side in slices (--slices K), without servers: the order of a round (every server up
and warmed up first, then slice k of every target, the first target rotated per round), the pairing of slice k
with slice k of the same round, and the report; --slices 1 keeps pairing by round."""

from __future__ import annotations

import argparse
import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from . import bench_module

slices = bench_module("slices")
launch = bench_module("launch")

TARGETS = "ours:postgres:w2,pylti1p3:g2,ours:sqlite:w2"


def args_for(k: int, n: int = 300, repeat: int = 2) -> argparse.Namespace:
    return argparse.Namespace(
        n=n,
        c=16,
        warmup=32,
        repeat=repeat,
        slices=k,
        driver_procs=1,
        users=0,
        content_dir="",
        platform_port=24391,
        ours_port=24392,
        pylti_port=24393,
        ltijs_port=24394,
        peer_scores=0,
        quiet_cores=0.3,
        quiet_timeout=20,
        keep_runs=False,
    )


def fake_summary(
    lps: float, cpu_ms: float, n: int, round_no: int, slice_no: int, idle: bool = False
) -> dict[str, Any]:
    """What Bench.measure returns, with the fields the report reads (a slice also has the idle servers' CPU)."""
    wall = n / lps
    summary: dict[str, Any] = {
        "n": n,
        "ok": n,
        "errors": 0,
        "wall_s": round(wall, 3),
        "launches_per_s": lps,
        "p50_ms": 80.0,
        "p95_ms": 120.0,
        "p99_ms": 150.0,
        "tool_hops": 3,
        "platform_hops": 1,
        "step_p50_ms": {s: 10.0 for s in ("login", "auth", "launch", "page")},
        "platform": {"jwks_fetches": 0},
        "platform_warmup": {"jwks_fetches": 1},
        "sampled": {
            "tool_cpu": cpu_ms * n / 1000,
            "tool_cpu_ms_per_launch": cpu_ms,
            "postgres_cpu_ms_per_launch": 0.0,
            "platform_cpu_ms_per_launch": 2.0,
            "driver_cpu_ms_per_launch": 3.0,
            "other_cpu_cores": 0.01,
        },
        "memory": {"peak_rss_max_mb": 90.0, "peak_rss_sum_mb": 250.0, "pss_sum_mb": 200.0, "processes": 3},
        "server": "gunicorn …",
        "first_errors": [],
        "round_no": round_no,
        "slice_no": slice_no,
    }
    if idle:
        summary["sampled"]["idle_servers_cpu_cores"] = 0.001
    return summary


def test_slices_split_n_into_equal_parts_that_add_up() -> None:
    assert slices.slice_sizes(300, 3) == [100, 100, 100]
    assert slices.slice_sizes(10, 3) == [4, 3, 3]
    assert slices.slice_sizes(5, 1) == [5]
    for bad in ((5, 0), (2, 3)):
        with pytest.raises(ValueError):
            slices.slice_sizes(*bad)


def test_targets_alternate_slice_by_slice_and_every_target_starts_a_round() -> None:
    names = ["A", "B", "C"]
    assert slices.schedule(names, 1, 2) == [("A", 1), ("B", 1), ("C", 1), ("A", 2), ("B", 2), ("C", 2)]
    assert slices.schedule(names, 2, 1) == [("B", 1), ("C", 1), ("A", 1)]
    assert [slices.round_order(names, r)[0] for r in range(1, 7)] == ["A", "B", "C", "A", "B", "C"]
    assert slices.round_order(["A", "B"], 2) == ["B", "A"]


def test_pairs_are_slice_k_with_slice_k_of_the_same_round_and_a_failed_slice_has_no_pair() -> None:
    ours = {(1, 1): 2.0, (1, 2): 3.0, (2, 1): 4.0, (2, 2): 1.0}
    peer = {(1, 1): 4.0, (1, 2): 3.0, (2, 2): 2.0}  # round 2 slice 1 of the peer failed
    assert slices.paired_ratios(ours, peer) == [0.5, 1.0, 0.5]


def test_a_round_of_slices_counts_as_one_run_and_a_round_of_one_slice_keeps_its_figures() -> None:
    runs = [fake_summary(100.0, 4.0, 100, 1, 1), fake_summary(300.0, 2.0, 200, 1, 2)]
    runs.append(fake_summary(123.45, 5.5, 300, 2, 1))
    totals = slices.round_totals(runs)
    # 300 launches in 1 s + 0.667 s; (0.4 + 0.4) s of tool CPU for 300 launches
    assert totals[1] == (round(300 / (1.0 + 0.667), 2), round(1000 * 0.8 / 300, 2))
    assert totals[2] == (123.45, 5.5)


def test_the_report_pairs_by_round_without_slices_and_by_slice_with_them() -> None:
    specs = [launch.parse_target(t) for t in TARGETS.split(",")]
    # without slices: one run per round; the peer's round 2 failed, so only round 1 pairs
    runs1 = {
        specs[0].name: [fake_summary(100.0, 6.0, 300, 1, 1), fake_summary(200.0, 3.0, 300, 2, 1)],
        specs[1].name: [fake_summary(200.0, 8.0, 300, 1, 1)],
        specs[2].name: [fake_summary(150.0, 4.0, 300, 1, 1), fake_summary(300.0, 2.0, 300, 2, 1)],
    }
    aggs = [launch.aggregate(s, runs1[s.name]) for s in specs]
    assert aggs[0]["rounds"] == 2
    assert aggs[0]["round_lps"] == [100.0, 200.0]
    assert launch.paired(aggs)[0] == {
        "ours": specs[0].name,
        "peer": specs[1].name,
        "lps": [0.5],
        "cpu": [0.75],
    }
    text = launch.report(args_for(1), aggs, "launch.py")
    assert "paired by round, median over rounds" in text
    assert "medians over rounds;" in text
    assert " idle " not in text

    # with slices: 2 rounds x 3 slices of 100; the peer's speed swings with the machine's, so do ours
    swing = [1.0, 1.5, 2.0, 1.2, 1.8, 1.0]
    runs3: dict[str, list[dict[str, Any]]] = {s.name: [] for s in specs}
    for i, speed in enumerate(swing):
        key = (i // 3 + 1, i % 3 + 1)
        runs3[specs[0].name].append(fake_summary(90.0 * speed, 6.0 / speed, 100, *key, idle=True))
        runs3[specs[1].name].append(fake_summary(100.0 * speed, 8.0 / speed, 100, *key, idle=True))
        runs3[specs[2].name].append(fake_summary(120.0 * speed, 4.0 / speed, 100, *key, idle=True))
    aggs = [launch.aggregate(s, runs3[s.name]) for s in specs]
    assert aggs[1]["rounds"] == 2
    assert aggs[1]["slice_keys"] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    assert aggs[1]["launches_per_s"] == 135.0  # median over the six slices
    pairs = {(p["ours"], p["peer"]): p for p in launch.paired(aggs)}
    assert pairs[specs[0].name, specs[1].name]["lps"] == pytest.approx([0.9] * 6)
    assert pairs[specs[2].name, specs[1].name]["cpu"] == pytest.approx([0.5] * 6)
    text = launch.report(args_for(3), aggs, "launch.py --slices 3")
    assert "300 launches per run in 3 slices (100/100/100)" in text
    assert "paired by slice, median over all pairs" in text
    assert "0.90 | 0.75 [0.75 0.75 0.75 0.75 0.75 0.75]" in text
    assert f"  {specs[1].name:26} r2: " in text
    assert " idle 0.001" in text


def test_a_round_in_slices_starts_every_server_then_alternates_slices_then_stops_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """measure_in_slices with the servers and the driver replaced by a log of what would happen."""
    events: list[str] = []
    specs = [launch.parse_target(t) for t in TARGETS.split(",")]
    args = args_for(3, n=10)
    bench = launch.Bench(args, specs)
    shutil.rmtree(bench.workdir)

    @contextlib.contextmanager
    def started(spec: Any, round_no: int) -> Iterator[Any]:
        events.append(f"start {spec.name}")
        served = launch.Served(proc=argparse.Namespace(pid=0), target=spec.name, command="")
        yield launch.Running(spec, served, 1.0, 0.1)
        events.append(f"stop {spec.name}")

    def run_phase(target: str, n: int, c: int, start: int, procs: int) -> tuple[float, list[Any]]:
        events.append(f"warm-up {target} {n} from {start}")
        return 0.1, []

    def drive(target: str, n: int, c: int, warmup: int, procs: int, **kw: Any) -> dict[str, Any]:
        assert warmup == 0 and kw["between"] == bench.quiet
        events.append(f"slice {target} {n} from {kw['index_base']}")
        return {"ok": n, "sampled": {}, "launches_per_s": 1.0, "p50_ms": 1.0, "p95_ms": 1.0, "errors": 0}

    def complete(summary: dict[str, Any], running: Any) -> None:
        summary["sampled"].update(tool_cpu_ms_per_launch=1.0, other_cpu_cores=0.0)
        summary["first_errors"] = []

    monkeypatch.setattr(bench, "started", started)
    monkeypatch.setattr(bench, "complete", complete)
    monkeypatch.setattr(launch.driver, "run_phase", run_phase)
    monkeypatch.setattr(launch.driver, "drive", drive)
    monkeypatch.setattr(launch.driver, "platform_stats", lambda url: {"jwks_fetches": 5})
    results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in specs}
    failures: list[str] = []
    bench.measure_in_slices(specs, 2, results, failures)
    pg, py, sq = (s.name for s in specs)
    assert failures == []
    assert events == [
        f"start {py}",
        f"start {sq}",
        f"start {pg}",
        f"warm-up {py} 32 from 0",
        f"warm-up {sq} 32 from 0",
        f"warm-up {pg} 32 from 0",
        f"slice {py} 4 from 32",
        f"slice {sq} 4 from 32",
        f"slice {pg} 4 from 32",
        f"slice {py} 3 from 36",
        f"slice {sq} 3 from 36",
        f"slice {pg} 3 from 36",
        f"slice {py} 3 from 39",
        f"slice {sq} 3 from 39",
        f"slice {pg} 3 from 39",
        f"stop {pg}",
        f"stop {sq}",
        f"stop {py}",
    ]
    assert [(r["round_no"], r["slice_no"], r["ok"]) for r in results[py]] == [
        (2, 1, 4),
        (2, 2, 3),
        (2, 3, 3),
    ]
    assert results[py][0]["platform_warmup"] == {"jwks_fetches": 0}
    assert results[py][0]["warmup"] == {"n": 32, "ok": 0, "wall_s": 0.1}


def test_with_slices_every_target_has_its_own_port_and_client() -> None:
    specs = [launch.parse_target(t) for t in TARGETS.split(",")]
    alone = launch.target_endpoints(specs, args_for(1))
    assert alone[specs[0].name] == alone[specs[2].name] == launch.Endpoint(24392, "nama-bench")
    side_by_side = launch.target_endpoints(specs, args_for(3))
    ports = [side_by_side[s.name].port for s in specs]
    assert ports[:2] == [24392, 24393] and ports[2] not in {24391, 24392, 24393, 24394}
    assert side_by_side[specs[2].name].client == "nama-bench-2"
