"""The gradebook with many learners: N learners (default 5,000) × the real course's modules (8), written straight
to the database, then the gradebook pages, a learner's page and both CSV exports requested in-process; prints
the time per request (median of --repeat) and the SQL statements it ran (X-Query-Count). Not a test.

    .venv/bin/python bench/gradebook.py                                  # SQLite in a temporary folder
    .venv/bin/python bench/gradebook.py --admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

With --admin-url a fresh PostgreSQL database is created for the run and dropped at the end.
What the learners did: 90 % launched (a tenth of those not in the roster), 10 % only in the roster; every
launched learner has progress in every module, half of them a practice text per module, and two grade rows per
target (an older superseded one and the newest: sent, or failed for every seventh learner).

PostgreSQL: the tables are ANALYZEd after the bulk load, as autovacuum would have done by the time a course
has that many learners. Without statistics the planner takes every table for empty and nests loops over the
grouped subqueries: a page then takes tens of seconds (measured: ~28 s at 5,000 learners).
The statement count of the CSV exports is not shown: they run their statements while streaming, after the
response headers (where the count is reported) have gone out; tests/gradebook/test_queries.py counts them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool import create_app  # noqa: E402
from lti_tool.course.catalog import get_catalog  # noqa: E402
from lti_tool.db import session_scope, upgrade  # noqa: E402
from lti_tool.lti.platforms import PlatformSpec, add_platform  # noqa: E402
from lti_tool.lti.provision import token_hash  # noqa: E402
from lti_tool.models import (  # noqa: E402
    Context,
    CourseProgress,
    GradeOutbox,
    Membership,
    ModuleProgress,
    PracticeSubmission,
    ResourceLink,
    RosterEntry,
    ToolSession,
    User,
    utcnow,
)

COURSE = "grundlagenkurs"


def seed(app: Any, learners: int) -> tuple[str, int]:
    """Platform, context, a teacher's tool session and `learners` learners; returns (session token, a user id)."""
    course = get_catalog(app).get(COURSE)
    assert course is not None
    modules = [m.id for m in course.modules]
    now = utcnow()
    token = secrets.token_urlsafe(32)
    with session_scope(app, write=True) as s:
        spec = PlatformSpec(
            "https://moodle.bench.example",
            "bench",
            "https://moodle.bench.example/auth",
            "https://moodle.bench.example/token",
            "https://moodle.bench.example/jwks",
            "Bench",
        )
        platform, deployment = add_platform(s, spec, "1")
        context = Context(
            deployment_id=deployment.id, context_id="bench-course", title="Bench", label="BENCH"
        )
        s.add(context)
        s.flush()
        link = ResourceLink(
            deployment_id=deployment.id, context_id=context.id, resource_link_id="1", course_id=COURSE
        )
        teacher = User(platform_id=platform.id, sub="teacher", name="Bench Teacher")
        s.add_all([link, teacher])
        s.flush()
        s.add(Membership(user_id=teacher.id, context_id=context.id, roles=["Instructor"], is_instructor=True))
        s.add(
            ToolSession(
                token_hash=token_hash(token),
                user_id=teacher.id,
                context_id=context.id,
                resource_link_id=link.id,
                deployment_id=deployment.id,
                message_type="LtiResourceLinkRequest",
                is_instructor=True,
                course_id=COURSE,
                claims={},
                expires_at=now + dt.timedelta(hours=8),
            )
        )
        platform_id, context_id = platform.id, context.id

    subs = [f"learner-{n:05d}" for n in range(learners)]
    launched = [sub for n, sub in enumerate(subs) if n % 10 != 0]
    in_roster = [sub for n, sub in enumerate(subs) if n % 10 == 0 or n % 10 != 5]
    with session_scope(app, write=True) as s:
        s.execute(
            insert(RosterEntry),
            [
                {
                    "context_id": context_id,
                    "sub": sub,
                    "name": f"Roster {sub}",
                    "roles": ["Learner"],
                    "fetched_at": now,
                }
                for sub in in_roster
            ],
        )
        s.execute(
            insert(User),
            [
                {
                    "platform_id": platform_id,
                    "sub": sub,
                    "name": f"Name {sub}",
                    "created_at": now,
                    "last_launch_at": now,
                }
                for sub in launched
            ],
        )
        ids = dict(
            s.execute(text("SELECT sub, id FROM lti_user WHERE platform_id = :p"), {"p": platform_id}).all()
        )
        user_ids = [ids[sub] for sub in launched]
        s.execute(
            insert(Membership),
            [
                {
                    "user_id": uid,
                    "context_id": context_id,
                    "roles": ["Learner"],
                    "created_at": now,
                    "last_launch_at": now,
                }
                for uid in user_ids
            ],
        )
        owner = {"context_id": context_id, "course_id": COURSE}
        progress, practice, courses, grades = [], [], [], []
        for n, uid in enumerate(user_ids):
            done = n % 9
            for index, module_id in enumerate(modules):
                progress.append(
                    {
                        **owner,
                        "user_id": uid,
                        "module_id": module_id,
                        "lessons_seen": 3,
                        "attempts": 1 + n % 3,
                        "best_score": (n % 11) / 10,
                        "started_at": now,
                        "completed_at": now if index < done else None,
                        "updated_at": now,
                    }
                )
                if n % 2 == 0:
                    practice.append(
                        {
                            **owner,
                            "user_id": uid,
                            "module_id": module_id,
                            "text": "Ein Praxistext. " * 20,
                            "submitted_at": now,
                            "updated_at": now,
                            "reviewed_at": now if n % 4 == 0 else None,
                        }
                    )
            courses.append(
                {
                    **owner,
                    "user_id": uid,
                    "started_at": now,
                    "completed_at": now if done >= len(modules) else None,
                    "updated_at": now - dt.timedelta(minutes=n),
                }
            )
            for target_module in [None, *modules]:
                target = (
                    f"module:{COURSE}/{target_module}@lineitems"
                    if target_module
                    else f"course:{COURSE}@link:1"
                )
                for state in ("superseded", "failed" if n % 7 == 0 else "sent"):
                    grades.append(
                        {
                            "platform_id": platform_id,
                            "user_id": uid,
                            "context_id": context_id,
                            "target": target,
                            "payload": {},
                            "score_timestamp": now.isoformat(),
                            "state": state,
                            "attempts": 1,
                            "restamps": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                            "last_status": 400 if state == "failed" else 200,
                            "last_error": "Incorrect score received" if state == "failed" else None,
                            "course_id": COURSE,
                            "module_id": target_module,
                        }
                    )
        for model, rows in (
            (ModuleProgress, progress),
            (PracticeSubmission, practice),
            (CourseProgress, courses),
            (GradeOutbox, grades),
        ):
            for start in range(0, len(rows), 5000):
                s.execute(insert(model), rows[start : start + 5000])
    return token, user_ids[len(user_ids) // 2]


def measure(client: Any, url: str, repeat: int) -> tuple[float, int, int]:
    times, statements, size = [], 0, 0
    for _ in range(repeat):
        started = time.perf_counter()
        resp = client.get(url)
        body = resp.get_data()
        times.append(time.perf_counter() - started)
        assert resp.status_code == 200, (url, resp.status_code, body[:300])
        statements, size = int(resp.headers.get("X-Query-Count", "0")), len(body)
    return statistics.median(times), statements, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--admin-url", default="", help="PostgreSQL URL to create the run's database with")
    args = parser.parse_args()
    # Stopped (e.g. by `timeout`): still drop the run's database in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory() as folder:
        database = ""
        if args.admin_url:
            database = f"bench_gradebook_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{database}"'))
            url = make_url(args.admin_url).set(database=database).render_as_string(hide_password=False)
            upgrade(url)
        else:
            url = f"sqlite:///{folder}/bench.db"
        try:
            app = create_app(
                {
                    "DATABASE_URL": url,
                    "SECRET_KEY": "bench",
                    "INSTANCE_PATH": f"{folder}/instance",
                    "CONTENT_DIR": str(ROOT / "content"),
                    "BENCH_COUNT_QUERIES": True,
                    "ENV": "development",
                    "EMBEDDED_WORKER": False,
                }
            )
            started = time.perf_counter()
            token, some_learner = seed(app, args.learners)
            if database:
                with session_scope(app) as s:
                    s.execute(text("ANALYZE"))
            print(
                f"seeded {args.learners} learners × 8 modules in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})"
            )
            client = app.test_client()
            base = f"/s/{token}/lehrende/"
            print(f"{'request':58} {'median ms':>10} {'statements':>10} {'bytes':>10}")
            for label, path in [
                ("gradebook, by name, page 1", ""),
                ("gradebook, by name, page 50", "?seite=50"),
                ("gradebook, by progress", "?sortierung=fortschritt"),
                ("gradebook, by last activity", "?sortierung=aktivitaet"),
                ("gradebook, failed deliveries", "?filter=fehlgeschlagen"),
                ("gradebook, to review, by activity", "?filter=zu-pruefen&sortierung=aktivitaet"),
                ("learner page", f"lernende/{some_learner}"),
                ("export: gradebook CSV (all learners)", "export/notenliste.csv"),
                ("export: completion list CSV", "export/abschluesse.csv"),
            ]:
                seconds, statements, size = measure(client, base + path, args.repeat)
                shown = "-" if "export" in path else str(statements)
                print(f"{label:58} {seconds * 1000:10.1f} {shown:>10} {size:10d}")
            app.extensions["nama_db"].dispose()
        finally:
            if database:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
