"""Outbox retention benchmark: how long the grade workers' pruning takes (lti_tool/grading/outbox/retention.py).

    .venv/bin/python bench/outbox_prune.py [--learners 2000] [--scores 12] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A fresh database (SQLite file in a temporary folder, or a new PostgreSQL database created through --database-url
and dropped at the end), migrated, holding the outbox of one course context: each learner with a course grade and
8 module grades, each grade sent --scores times over the past year (every third score superseded before it left),
as the outbox would hold them without retention. Then `outbox.prune` runs batch by batch (one transaction each,
as `worker.prune_outbox` does: the search in a read, the delete in a write transaction) with GRADE_HISTORY_DAYS
180; printed: rows before and after, batches, time per batch of the search and of the delete (median, max) and in
total, and the check that exactly the newest row of each grade and the rows younger
than the history are left. Not a test: the figures depend on the machine and on what else runs on it (the load
average is printed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool.db import upgrade  # noqa: E402
from lti_tool.grading import outbox  # noqa: E402
from lti_tool.models import Context, Deployment, GradeOutbox, Platform, User, utcnow  # noqa: E402

MODULES = 8
HISTORY_DAYS = 180
CHUNK = 5000


def seed(s: Session, *, learners: int, scores: int, now: dt.datetime) -> tuple[int, set[int]]:
    """The outbox rows; returns (rows, ids that must survive the pruning)."""
    s.execute(
        insert(Platform).values(
            id=1,
            issuer="https://lms.example.org",
            client_id="bench",
            name="LMS",
            auth_login_url="https://lms.example.org/a",
            auth_token_url="https://lms.example.org/t",
            jwks_url="https://lms.example.org/j",
            registered_via="cli",
            created_at=now,
        )
    )
    s.execute(insert(Deployment).values(id=1, platform_id=1, deployment_id="d", active=True, created_at=now))
    s.execute(
        insert(Context).values(
            id=1, deployment_id=1, context_id="k", title="Kurs", label="K", created_at=now, updated_at=now
        )
    )
    s.execute(
        insert(User),
        [{"id": n, "platform_id": 1, "sub": f"u{n}", "created_at": now} for n in range(1, learners + 1)],
    )
    rows: list[dict[str, Any]] = []
    keep: set[int] = set()
    next_id = 1
    targets = [("course:grundlagenkurs@link:1", None)] + [
        (f"module:grundlagenkurs/m{m}@lineitems", f"m{m}") for m in range(MODULES)
    ]
    for user in range(1, learners + 1):
        for target, module in targets:
            for n in range(scores):
                # spread over the past year, the newest last
                at = now - dt.timedelta(days=365 * (scores - n) / scores, minutes=user % 60)
                superseded = n % 3 == 1 and n < scores - 1
                stamp = at.isoformat(timespec="microseconds")
                rows.append(
                    {
                        "id": next_id,
                        "platform_id": 1,
                        "user_id": user,
                        "context_id": 1,
                        "target": target,
                        "lineitem_url": "https://lms.example.org/li/1",
                        "payload": {"userId": f"u{user}", "scoreGiven": 10.0 * n, "timestamp": stamp},
                        "score_timestamp": stamp,
                        "state": "superseded" if superseded else "sent",
                        "attempts": 0 if superseded else 1,
                        "restamps": 0,
                        "next_attempt_at": at,
                        "created_at": at,
                        "sent_at": None if superseded else at + dt.timedelta(seconds=1),
                        "last_attempt_at": None if superseded else at + dt.timedelta(seconds=1),
                        "course_id": "grundlagenkurs",
                        "module_id": module,
                        "destination": "link" if module is None else "module_item",
                    }
                )
                if n == scores - 1 or (not superseded and at > now - dt.timedelta(days=HISTORY_DAYS)):
                    keep.add(next_id)
                next_id += 1
            if len(rows) >= CHUNK:
                s.execute(insert(GradeOutbox), rows)
                rows.clear()
    if rows:
        s.execute(insert(GradeOutbox), rows)
    return next_id - 1, keep


def run(url: str, *, learners: int, scores: int) -> None:
    upgrade(url)
    engine = create_engine(url)
    now = utcnow()
    started = time.perf_counter()
    with Session(engine) as s, s.begin():
        total, keep = seed(s, learners=learners, scores=scores, now=now)
    print(
        f"seeded {total} rows ({learners} learners x {MODULES + 1} grades x {scores} scores) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    times: list[float] = []  # the search (a read)
    deletes: list[float] = []  # the delete (the write transaction)
    pruned = 0
    while True:
        began = time.perf_counter()
        with Session(engine) as s:
            ids = outbox.prunable(s, history_days=HISTORY_DAYS, now=now)
        searched = time.perf_counter()
        with Session(engine) as s, s.begin():
            pruned += outbox.delete_rows(s, ids)
        times.append(searched - began)
        deletes.append(time.perf_counter() - searched)
        if len(ids) < outbox.PRUNE_BATCH:
            break
    with Session(engine) as s:
        left = set(s.scalars(select(GradeOutbox.id)))
        assert s.scalar(select(func.count()).select_from(GradeOutbox)) == total - pruned
    print(
        f"pruned {pruned} rows in {len(times)} batches of up to {outbox.PRUNE_BATCH}, "
        f"{sum(times) + sum(deletes):.2f} s in total ({pruned / (sum(times) + sum(deletes)):.0f} rows/s); per batch "
        f"the search (a read) median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
        f"the delete (the write transaction) median {statistics.median(deletes) * 1000:.0f} ms, "
        f"max {max(deletes) * 1000:.0f} ms"
    )
    print(
        f"left {len(left)} rows; exactly the newest of each grade and the deliveries of the last "
        f"{HISTORY_DAYS} days: {left == keep}"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--scores", type=int, default=12, help="scores per grade over the past year")
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL server (a database is created and dropped)"
    )
    parser.add_argument("--database-prefix", default="nama_bench_prune", help="name of the database created")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    if not args.database_url:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/outbox.db", learners=args.learners, scores=args.scores)
        return
    name = f"{args.database_prefix}_{uuid.uuid4().hex[:8]}"
    server = make_url(args.database_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run(
            server.set(database=name).render_as_string(hide_password=False),
            learners=args.learners,
            scores=args.scores,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
