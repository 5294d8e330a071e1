"""bench/paired_pool.py: the pooled paired ratios of several launch runs, their interval and sign test."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from . import bench_module

pool = bench_module("paired_pool")


def write_run(path: Path, lps: list[float], cpu: list[float], command: str = "launch.py -n 300") -> Path:
    path.write_text(
        json.dumps(
            {
                "command": command,
                "paired": [{"ours": "ours:postgres:w2", "peer": "pylti1p3:g2", "lps": lps, "cpu": cpu}],
            }
        )
    )
    return path


def test_runs_are_pooled_per_pair_in_file_order(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a.json", [1.1, 0.9], [0.7, 0.8])
    b = write_run(tmp_path / "b.json", [1.3], [0.6])
    pooled = pool.pooled([json.loads(a.read_text()), json.loads(b.read_text())])
    assert pooled == {("ours:postgres:w2", "pylti1p3:g2"): {"lps": [1.1, 0.9, 1.3], "cpu": [0.7, 0.8, 0.6]}}


def test_sign_test_is_the_exact_binomial() -> None:
    assert pool.sign_test(0, 0) == 1.0
    assert pool.sign_test(5, 5) == 1.0
    # 9 of 10 one way: P(X <= 1) = 11/1024, two-sided 22/1024
    assert pool.sign_test(9, 1) == pytest.approx(22 / 1024)
    assert pool.sign_test(1, 9) == pytest.approx(22 / 1024)
    assert pool.sign_test(18, 0) == pytest.approx(2 / 2**18)


def test_summary_counts_ahead_by_direction_and_leaves_ties_out() -> None:
    values = [1.2, 0.8, 1.0, 1.5, 1.1]
    lps = pool.summary(values, better_above=True)
    assert (lps["n"], lps["ahead"], lps["median"]) == (5, 3, 1.1)
    assert lps["sign_p"] == pytest.approx(pool.sign_test(3, 1))
    cpu = pool.summary(values, better_above=False)
    assert cpu["ahead"] == 1


def test_interval_holds_the_median_and_is_repeatable() -> None:
    values = [0.8, 0.9, 1.0, 1.05, 1.1, 1.2, 1.3, 0.95, 1.15, 1.25]
    low, high = pool.median_interval(values)
    assert low <= 1.075 <= high  # the sample's median lies inside
    assert min(values) <= low < high <= max(values)
    assert pool.median_interval(values) == (low, high)  # fixed seed: the same files print the same figures
    # all pairs alike: no doubt left
    assert pool.median_interval([1.2] * 8) == (1.2, 1.2)


def test_report_names_every_file_and_command(tmp_path: Path) -> None:
    a = write_run(
        tmp_path / "a.json", [1.1, 1.2, 1.3, 0.9], [0.7, 0.8, 0.6, 0.9], command="launch.py -n 300 A"
    )
    b = write_run(tmp_path / "b.json", [1.2, 1.4], [0.5, 0.7], command="launch.py -n 300 B")
    text = pool.report([a, b])
    assert "a.json: launch.py -n 300 A" in text and "b.json: launch.py -n 300 B" in text
    rows = [line.split() for line in text.splitlines() if line.startswith("ours:postgres:w2 ÷ pylti1p3:g2")]
    assert [r[3:7] for r in rows] == [["lps", "6", "5", "1.20"], ["cpu", "6", "6", "0.70"]]
    assert not math.isnan(float(rows[0][8]))
