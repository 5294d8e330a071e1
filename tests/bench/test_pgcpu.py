"""bench/pgcpu.py: PostgreSQL's CPU for the measured target's database only, from /proc readings (here made up,
and once from the real server when the tests run on PostgreSQL)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from . import bench_module

launch = bench_module("launch")
pgcpu = bench_module("pgcpu")
procinfo = bench_module("procinfo")

OURS, OTHER = "nama_benchpg_launch_1a2b", "nama_lead_test"
POSTMASTER = "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/x.conf"


def title(rest: str) -> str:
    return f"postgres: 15/main: {rest}"


@pytest.mark.parametrize(
    ("process_title", "database"),
    [
        (title(f"postgres {OURS} 127.0.0.1(50312) idle"), OURS),
        (title(f"postgres {OURS} 127.0.0.1(50312) idle in transaction"), OURS),
        (f"postgres: app {OURS} [local] INSERT", OURS),  # no cluster name, a Unix socket
        (title(f"autovacuum worker {OURS}"), OURS),
        (title("autovacuum worker"), ""),
        (title("parallel worker for PID 101"), OURS),  # its leader is a backend of OURS
        (title("parallel worker for PID 999"), ""),  # a leader not seen
        (title("checkpointer"), None),
        (title("background writer"), None),
        (title("walwriter"), None),
        (title("logical replication launcher"), None),
        ("postgres: autovacuum launcher", None),
        (POSTMASTER, None),
    ],
)
def test_the_process_title_names_the_database_a_process_works_for(
    process_title: str, database: str | None
) -> None:
    assert pgcpu.database_of(process_title, {101: OURS}) == database


def reading(pid: int, cpu: float, rest: str, start: int = 1000) -> Any:
    return procinfo.Reading(pid, start, POSTMASTER if rest == "postmaster" else title(rest), cpu)


BACKEND, OTHERS_BACKEND = f"postgres {OURS} 127.0.0.1(5000) idle", f"postgres {OTHER} 127.0.0.1(6000) idle"
AT_START = [
    reading(1, 1.0, "postmaster"),
    reading(2, 10.0, "checkpointer"),
    reading(3, 4.0, "walwriter"),
    reading(101, 1.0, BACKEND),  # a pool connection, there throughout
    reading(102, 0.3, BACKEND),  # exits meanwhile
    reading(201, 2.0, OTHERS_BACKEND),
    reading(202, 5.0, OTHERS_BACKEND),  # another session's backend, exits meanwhile
]
AT_END = [
    reading(1, 1.0, "postmaster"),
    reading(2, 10.1, "checkpointer"),
    reading(3, 4.2, "walwriter"),
    reading(101, 1.5, BACKEND),
    reading(102, 0.05, BACKEND, start=2000),  # pid 102 again: a new pool connection, counted from 0
    reading(103, 0.15, BACKEND, start=2100),  # opened meanwhile
    reading(104, 0.1, "parallel worker for PID 101", start=2200),
    reading(201, 2.3, OTHERS_BACKEND),
]


def samples(*readings: list[Any]) -> Iterator[list[Any]]:
    yield from readings


def test_the_target_gets_its_backends_and_a_share_of_the_shared_processes_whoever_comes_and_goes() -> None:
    machine_wide = sum(r.cpu for r in AT_END) - sum(r.cpu for r in AT_START)
    assert machine_wide < 0  # what launch.py reported before: 5.3 s of exited backends lost

    fake = samples(AT_START, AT_END)
    counter = pgcpu.PostgresCpu(OURS, lambda: next(fake))
    first, second = counter.sample(), counter.sample()
    assert first == dict.fromkeys(pgcpu.KEYS, 0.0)
    ours = 0.5 + 0.05 + 0.15 + 0.1  # pool connection, pid reused, opened meanwhile, parallel worker
    others, shared = 0.3, 0.1 + 0.2  # the other database's backend; checkpointer + walwriter
    assert second["postgres_backends_cpu"] == pytest.approx(ours)
    assert second["postgres_shared_cpu"] == pytest.approx(shared * ours / (ours + others))
    assert second["postgres_cpu"] == pytest.approx(ours + shared * ours / (ours + others))
    assert second["postgres_all_cpu"] == pytest.approx(ours + others + shared)


def test_a_target_without_postgresql_work_gets_none_of_the_shared_processes() -> None:
    quiet = [r for r in AT_END if r.pid < 100]
    fake = samples(AT_START, AT_END, quiet)
    counter = pgcpu.PostgresCpu("nama_benchpg_launch_ffff", lambda: next(fake))
    counter.sample()
    assert counter.sample()["postgres_cpu"] == 0.0  # only the other database's backend worked
    assert counter.sample()["postgres_cpu"] == 0.0  # no backend worked at all


def test_the_sampler_counts_the_target_databases_postgresql_work_and_other_takes_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = samples(AT_START, AT_END)
    monkeypatch.setattr(launch.pgcpu, "postgres_readings", lambda: next(fake))
    bench = launch.Bench.__new__(launch.Bench)
    bench.platform_pid = 0
    spec = launch.parse_target("ours:postgres:w2")
    served = launch.Served(argparse.Namespace(pid=os.getpid()), "target", "gunicorn …", database=OURS)
    running = launch.Running(spec, served, 1.0, 0.1)
    sample = bench.sampler(running)
    m0, m1 = sample(), sample()
    sampled = {k: m1[k] - m0[k] for k in m0}
    assert sampled["postgres_cpu"] == pytest.approx(0.8 + 0.3 * 0.8 / 1.1)
    sampled.update(wall=1.0, machine_busy_cpu=5.0, tool_cpu=1.0, platform_cpu=0.5, driver_cpu=0.5)
    summary = {"ok": 100, "sampled": sampled}
    bench.complete(summary, running)
    assert sampled["postgres_cpu_ms_per_launch"] == round(1000 * sampled["postgres_cpu"] / 100, 2)
    assert sampled["other_cpu_cores"] == round(3.0 - sampled["postgres_cpu"], 2)

    fake = samples(AT_START, AT_END)
    without = launch.Served(argparse.Namespace(pid=os.getpid()), "target", "gunicorn …")
    sample = bench.sampler(launch.Running(launch.parse_target("ours:sqlite:w2"), without, 1.0, 0.1))
    m0, m1 = sample(), sample()
    assert {k: m1[k] - m0[k] for k in pgcpu.KEYS} == pytest.approx(
        {
            "postgres_cpu": 0.0,
            "postgres_backends_cpu": 0.0,
            "postgres_shared_cpu": 0.0,
            "postgres_all_cpu": 1.4,
        }
    )


def test_the_real_servers_backend_is_counted_for_its_database(app: Flask) -> None:
    engine = app.extensions["nama_db"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the tests run on SQLite (TEST_DATABASE_URL names no PostgreSQL database)")
    with engine.connect() as conn:
        pid, database = conn.execute(text("SELECT pg_backend_pid(), current_database()")).one()
        if not any(r.pid == pid for r in pgcpu.postgres_readings()):
            pytest.skip("the PostgreSQL server's processes are not visible in this machine's /proc")
        counter = pgcpu.PostgresCpu(database)
        counter.sample()
        conn.execute(text("SELECT count(*) FROM generate_series(1, 3000000)")).one()
        counted = counter.sample()
    assert counted["postgres_backends_cpu"] >= 0.05
    assert counted["postgres_cpu"] >= counted["postgres_backends_cpu"]
