"""Certification-register benchmark: the office's register pages and its CSV export at N completions.

    .venv/bin/python bench/register.py [--completions 50000] [--repeat 20] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Per run: a fresh database (SQLite file in a temporary folder, or a new PostgreSQL database created through
--database-url and dropped at the end), migrated; the tool app from the factory (`create_app`, with
LTI_TOOL_BENCH_COUNT_QUERIES on, so each response says how many SQL statements it ran). `seed()` fills the
database in bulk with a seeded RNG: 4 platforms with 2 deployments each, 400 LMS course contexts with an activity
each, N learners with one completion each (names with umlauts, e-mail addresses), a certificate for 85 % of them
(2 % of those revoked), completions spread over two years. An office account signs in through the sign-in form.

Then, through Flask's test client (in-process: no HTTP in the figures): register page 1, a middle page, the last
page, a search by name, by a name with an umlaut, by part of an e-mail address, by three letters that could also be
part of a code, by the e-mail domain every learner shares (the broadest search), by a certificate code, a filter by
platform, course and period, and one record (median and p95 over --repeat renders after one warm-up, SQL statements per render); then the CSV
export of the whole register (time to the last byte, bytes, rows). Goals (issue 15): a page in <= 100 ms, the
export in <= 3 s. Not a test: figures depend on the machine and on what else runs on it (the load average is
printed); nothing here asserts a time. The CPU columns are the serving thread's CPU time (X-CPU-Us, and
time.thread_time() around the export, whose generator runs in this thread): with SQLite in the same process they
say what a page costs when the machine is not shared, which the wall times on a busy machine do not. With
PostgreSQL the database's work is in its server processes: the DB CPU column adds up the CPU time of the bench
database's server processes during each render (/proc/<pid>/schedstat; the server must run on this machine), so
app CPU + DB CPU is what a page costs whatever else runs. PostgreSQL's tables are vacuumed and analysed after the
seeding, as autovacuum keeps a register that grew over months (a freshly bulk-loaded table has no visibility map).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool import create_app  # noqa: E402
from lti_tool.admin.accounts import Role, create_operator  # noqa: E402
from lti_tool.certificate.service import new_code  # noqa: E402
from lti_tool.course.catalog import get_catalog  # noqa: E402
from lti_tool.db import session_scope, upgrade  # noqa: E402
from lti_tool.models import (  # noqa: E402
    Certificate,
    Context,
    Deployment,
    Membership,
    Platform,
    RegisterEntry,
    ResourceLink,
    User,
)

CHUNK = 2000
COURSE_ID = "grundlagenkurs"
OFFICE, PASSWORD = "pruefstelle", "Zertifizierung im Rheinland 2026!"
GIVEN = ["Lea", "Max", "Özlem", "Jürgen", "Anna", "Paul", "Şule", "Björn", "Eva", "Murat", "Käthe", "Jonas"]
FAMILY = [
    "Schneider",
    "Öztürk",
    "Müller",
    "Weber",
    "Çelik",
    "Wagner",
    "Schäfer",
    "Hoffmann",
    "Krüger",
    "Yılmaz",
]
TOWNS = ["Düren", "Aachen", "Heinsberg", "Euskirchen", "Köln", "Mönchengladbach", "Rhein-Erft", "Neuss"]


def _bulk(s: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        s.execute(insert(model), list(rows[start : start + CHUNK]))


def seed(s: Session, completions: int, rng: random.Random, course: Any) -> list[str]:
    """The register's rows in bulk; returns the certificate codes."""
    now = dt.datetime.now(dt.UTC)
    platforms = []
    for n in range(4):
        platform = Platform(
            issuer=f"https://moodle{n}.kreis.example",
            client_id=f"client-{n}",
            name=f"Moodle {TOWNS[n]}",
            auth_login_url="https://lms.example/a",
            auth_token_url="https://lms.example/t",
            jwks_url="https://lms.example/j",
        )
        s.add(platform)
        platforms.append(platform)
    s.flush()
    deployments = []
    for platform in platforms:
        for d in range(2):
            deployment = Deployment(platform_id=platform.id, deployment_id=str(d + 1), active=True)
            s.add(deployment)
            deployments.append(deployment)
    s.flush()
    contexts = []
    for c in range(400):
        deployment = deployments[c % len(deployments)]
        context = Context(
            deployment_id=deployment.id,
            context_id=f"kurs-{c}",
            title=f"NaMa Grundlagen {TOWNS[c % len(TOWNS)]} {2025 + c % 2}/{c}",
            label=f"NaMa-{c}",
        )
        s.add(context)
        contexts.append((context, deployment))
    s.flush()
    links = {}
    for context, deployment in contexts:
        link = ResourceLink(
            deployment_id=deployment.id,
            context_id=context.id,
            resource_link_id=f"activity-{context.id}",
            title="Grundlagenkurs",
            course_id=COURSE_ID,
        )
        s.add(link)
        links[context.id] = link
    s.flush()
    users, members, entries, certificates, codes = [], [], [], [], []
    modules = [{"position": m.position, "title": m.title} for m in course.modules]
    for i in range(completions):
        context, deployment = contexts[i % len(contexts)]
        platform_id = deployment.platform_id
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        users.append(
            {
                "id": i + 1,
                "platform_id": platform_id,
                "sub": f"moodle-{i}",
                "name": f"{given} {family}",
                "given_name": given,
                "family_name": family,
                "email": f"{given.lower()}.{family.lower()}{i}@kommune.example",
                "created_at": now,
            }
        )
    _bulk(s, User, users)
    for i in range(completions):
        context, deployment = contexts[i % len(contexts)]
        started = now - dt.timedelta(days=rng.uniform(30, 760))
        done = started + dt.timedelta(days=rng.uniform(1, 29))
        members.append(
            {
                "user_id": i + 1,
                "context_id": context.id,
                "roles": [],
                "is_instructor": False,
                "created_at": started,
                "last_launch_at": done,
            }
        )
        entries.append(
            {
                "user_id": i + 1,
                "platform_id": deployment.platform_id,
                "context_id": context.id,
                "course_id": COURSE_ID,
                "resource_link_id": links[context.id].id,
                "completed_at": done,
                "created_at": done,
            }
        )
        if rng.random() < 0.85:
            code = new_code()
            codes.append(code)
            revoked = rng.random() < 0.02
            certificates.append(
                {
                    "code": code,
                    "user_id": i + 1,
                    "context_id": context.id,
                    "course_id": COURSE_ID,
                    "holder_name": users[i]["name"],
                    "course_title": course.title,
                    "issuer_name": course.issuer,
                    "modules": [{**m, "completed_at": done.isoformat()} for m in modules],
                    "started_at": started,
                    "completed_at": done,
                    "workload_hours": course.workload.hours if course.workload else None,
                    "teaching_units": course.workload.teaching_units if course.workload else None,
                    "issued_at": done,
                    "revoked_at": now if revoked else None,
                    "revoked_by": OFFICE if revoked else None,
                    "revoked_reason": "Täuschung festgestellt" if revoked else None,
                }
            )
    _bulk(s, Membership, members)
    _bulk(s, RegisterEntry, entries)
    _bulk(s, Certificate, certificates)
    create_operator(s, OFFICE, PASSWORD, Role.OFFICE)
    return codes


@contextmanager
def fresh_database(admin_url: str | None) -> Iterator[str]:
    """A new, empty database URL (SQLite in a temporary folder, or a PostgreSQL database dropped afterwards)."""
    if not admin_url:
        with tempfile.TemporaryDirectory(prefix="nama-bench-register-") as tmp:
            yield f"sqlite:///{tmp}/tool.db"
        return
    import psycopg

    url = make_url(admin_url)
    name = f"nama_bench_register_{uuid.uuid4().hex[:8]}"
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # nearest rank


def summary(html: str) -> str:
    found = re.search(r'<p id="register-summary"[^>]*>(.*?)</p>', html, re.S)
    text = re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip() if found else ""
    return text.split(" Als CSV")[0][:60]


class ServerCpu:
    """CPU time (seconds) of the PostgreSQL server processes serving the bench database, read from
    /proc/<pid>/schedstat (nanoseconds on a CPU) through a connection of its own, which it leaves out."""

    def __init__(self, url: str) -> None:
        import psycopg

        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(plain, autocommit=True)

    def __call__(self) -> float:
        pids = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        total = 0
        for (pid,) in pids:
            # A process gone meanwhile, or a server on another machine, counts nothing.
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        return total / 1e9

    def close(self) -> None:
        self.conn.close()


def measure(client: Any, label: str, url: str, repeat: int, server: ServerCpu | None) -> None:
    first = client.get(url)  # warm-up: templates compiled, caches loaded
    if first.status_code != 200:
        print(f"{label:<30} HTTP {first.status_code}, skipped: {first.get_data(as_text=True)[:200]!r}")
        return
    times, cpu, db_cpu, queries = [], [], [], set()
    for _ in range(repeat):
        db_started = server() if server else 0.0
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        if server:
            db_cpu.append((server() - db_started) * 1000)
        cpu.append(int(response.headers.get("X-CPU-Us", "0")) / 1000)
        queries.add(response.headers.get("X-Query-Count", "?"))
    db = f"DB CPU {statistics.median(db_cpu):5.1f} ms  " if server else ""
    print(
        f"{label:<30} median {statistics.median(times):7.1f} ms  p95 {percentile(times, 0.95):7.1f} ms  "
        f"CPU median {statistics.median(cpu):6.1f} ms  {db}SQL/render {','.join(sorted(queries))}  "
        f"{len(body) / 1024:6.1f} KiB  {summary(body.decode())}"
    )


def sign_in(client: Any) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    resp = client.post(
        "/admin/login", data={"csrf_token": token.group(1), "username": OFFICE, "password": PASSWORD}
    )
    assert resp.status_code == 303, resp.status_code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--completions", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=20, help="renders per page (after one warm-up)")
    parser.add_argument("--export-repeat", type=int, default=3, help="downloads of the CSV export")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL server (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres): a fresh "
        "database is created there and dropped afterwards. Default: SQLite in a temporary folder",
    )
    parser.add_argument("--content-dir", default=str(ROOT / "content"))
    args = parser.parse_args()

    import logging

    logging.disable(logging.INFO)
    print(
        f"completions {args.completions}, repeat {args.repeat}, seed {args.seed}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores"
    )
    with fresh_database(args.database_url or None) as url, tempfile.TemporaryDirectory() as instance:
        print(f"database {make_url(url).render_as_string(hide_password=True)}")
        upgrade(url)
        app = create_app(
            {
                "DATABASE_URL": url,
                "INSTANCE_PATH": instance,
                "SECRET_KEY": "bench-" + uuid.uuid4().hex,
                "CONTENT_DIR": args.content_dir,
                "EMBEDDED_WORKER": False,
                "ENV": "development",
                "BENCH_COUNT_QUERIES": True,
            }
        )
        try:
            run(app, args)
        finally:
            app.extensions["nama_db"].dispose()


def run(app: Any, args: argparse.Namespace) -> None:
    course = get_catalog(app).get(COURSE_ID)
    assert course is not None, f"no {COURSE_ID} in {args.content_dir}"
    rng = random.Random(args.seed)
    started = time.perf_counter()
    with session_scope(app, write=True) as s:
        codes = seed(s, args.completions, rng, course)
    postgres = app.extensions["nama_db"].engine.dialect.name == "postgresql"
    if postgres:
        with app.extensions["nama_db"].engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    with session_scope(app) as s:
        platform_id = s.scalars(select(Platform.id).order_by(Platform.id)).first()
        entry_id = s.scalars(select(RegisterEntry.id).order_by(RegisterEntry.id.desc())).first()
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    sign_in(client)
    from lti_tool.register.entries import PAGE_SIZE

    pages = max(1, -(-args.completions // PAGE_SIZE))
    code = codes[len(codes) // 2]
    year = dt.date.today().year - 1
    views = [
        ("page 1", "/admin/register"),
        (f"page {pages // 2} (middle)", f"/admin/register?seite={pages // 2}"),
        (f"page {pages} (last)", f"/admin/register?seite={pages}"),
        ("search name 'schneider'", "/admin/register?q=schneider"),
        ("search name 'öztürk'", "/admin/register?q=" + quote("öztürk")),
        ("search e-mail part", "/admin/register?q=" + quote("jonas.weber")),
        ("search 'max' (name or code)", "/admin/register?q=max"),
        ("search e-mail domain (all)", "/admin/register?q=" + quote("kommune.example")),
        ("search code", "/admin/register?q=" + quote(code.lower().replace("-", ""))),
        (
            "filter platform+course+year",
            f"/admin/register?plattform={platform_id}&kurs={COURSE_ID}&von={year}-01-01&bis={year}-12-31",
        ),
        ("record (with certificate)", f"/admin/register/{entry_id}"),
    ]
    server = ServerCpu(app.config["DATABASE_URL"]) if postgres else None
    try:
        for label, url in views:
            measure(client, label, url, args.repeat, server)
        for n in range(args.export_repeat):
            db_started = server() if server else 0.0
            started, cpu_started = time.perf_counter(), time.thread_time()
            response = client.get("/admin/register/export.csv")
            body = response.get_data()  # the test client runs the streamed generator in this thread
            elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
            db = f"DB CPU {server() - db_started:5.2f} s  " if server else ""
            rows = body.count(b"\r\n") - 1
            print(
                f"export.csv #{n + 1:<21} {elapsed:7.2f} s  CPU {cpu:6.2f} s  {db}"
                f"{len(body) / 1024 / 1024:6.1f} MiB  {rows} rows  HTTP {response.status_code}"
            )
    finally:
        if server:
            server.close()


if __name__ == "__main__":
    main()
