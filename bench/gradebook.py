"""Gradebook benchmark: an instructor's gradebook pages and CSV exports for N learners x the 8 modules of the
Grundlagenkurs, and a roster refresh (NRPS) of N members from the demo LMS.

    .venv/bin/python bench/gradebook.py [--learners 5000] [--repeat 20] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Per run: a fresh database (SQLite file in a temporary folder, or a new PostgreSQL database created through
--database-url and dropped at the end), migrated; the tool app from the factory (`create_app`, with
LTI_TOOL_BENCH_COUNT_QUERIES on, so each response says how many SQL statements it ran) served on loopback;
the demo LMS (lti_tool/demo_lms) served on loopback with the N learners enrolled. `seed()` fills the tool's
database in bulk with a seeded RNG. The instructor's tool session comes from a real LTI launch: the demo LMS's
instructor (user 3) launches activity 1, through OIDC login and the id_token POST, like a browser.

Then, through Flask's test client (in-process: no HTTP in the figures): gradebook page 1 and a middle page
(median and p95 over --repeat renders after one warm-up, the median CPU time of this process per render, SQL
statements per render), the two CSV exports
(time and bytes), and a roster refresh (`gradebook/roster.py`) against the demo LMS (paged by NRPS_PAGE_SIZE),
then peak RSS of this process (tool, demo LMS and seeding together). Not a test: numbers depend on the machine and on what
else runs on it (the load average is printed). `--only csv`: the gradebook export alone (--repeat downloads),
`--only pages`: the two pages alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool import create_app  # noqa: E402
from lti_tool.course.catalog import get_catalog  # noqa: E402
from lti_tool.course.model import Course  # noqa: E402
from lti_tool.db import session_scope, upgrade  # noqa: E402
from lti_tool.demo_lms import close_demo_lms, create_demo_lms, serve_in_thread  # noqa: E402
from lti_tool.demo_lms.demo_data import SERVICE_SCOPES  # noqa: E402
from lti_tool.demo_lms.state import EXTENSION  # noqa: E402
from lti_tool.demo_lms.storage import User as LmsUser  # noqa: E402
from lti_tool.gradebook.roster import (  # noqa: E402
    CONTAINER_TYPE,
    NRPS_SCOPE,
    RosterError,
    access_tokens,
    fetch_roster,
    roster_source,
    store_roster_refresh,
    with_page_size,
)
from lti_tool.gradebook.summary import rebuild as rebuild_summary  # noqa: E402
from lti_tool.grading.tokens import PlatformInfo  # noqa: E402
from lti_tool.http import shared_session  # noqa: E402
from lti_tool.lti import keys  # noqa: E402
from lti_tool.models import (  # noqa: E402
    Certificate,
    Context,
    CourseProgress,
    Deployment,
    GradeOutbox,
    LineItem,
    LinkLaunch,
    Membership,
    ModuleProgress,
    Platform,
    PracticeSubmission,
    QuizAttempt,
    ResourceLink,
    RosterEntry,
    User,
    utcnow,
)

# The gradebook's URLs (a colleague builds them; adjust here when they change). {sid}: the tool session token.
GRADEBOOK_PAGE = "/s/{sid}/lehrende/"
PAGE_PARAM = "seite"
GRADES_CSV = "/s/{sid}/lehrende/export/notenliste.csv"
COMPLETIONS_CSV = "/s/{sid}/lehrende/export/abschluesse.csv"
GRADEBOOK_PAGE_SIZE = 50  # learners per gradebook page, to pick the middle page (--middle-page overrides)

COURSE_ID = "grundlagenkurs"
CLIENT_ID = "nama-bench"
DEPLOYMENT_ID = "1"  # the demo LMS uses its tool id as deployment id
LMS_COURSE = "demo-course-1"
FIRST_SUB = 1000  # the seeded learners' LMS user ids: 1000, 1001, ...
INSTRUCTOR = "3"  # the demo LMS's teacher
CHUNK = 2000  # rows per bulk INSERT

GIVEN = ["Anna", "Ben", "Clara", "Deniz", "Elif", "Finn", "Greta", "Hannes", "Ida", "Jonas", "Lea", "Mats"]
FAMILY = ["Becker", "Demir", "Fischer", "Hoffmann", "Kaya", "Krüger", "Lehmann", "Neumann", "Schmidt", "Wolf"]
TOWNS = ["Bergheim", "Düren", "Eschweiler", "Frechen", "Grevenbroich", "Hückelhoven", "Jülich", "Kerpen"]
FAILURES = [
    "400 Bad Request: Incorrect score received",
    "403 Forbidden: the tool is not allowed to post scores for this line item",
    "404 Not Found: line item not found",
    "no access token: token endpoint answered 401: invalid_client",
]


# --- Seeding ----------------------------------------------------------------------------------------


@dataclass
class Seeded:
    platform_id: int
    deployment_id: int
    context_id: int
    link_id: int
    counts: dict[str, int] = field(default_factory=dict)


def _bulk(s: Session, model: Any, rows: Sequence[dict[str, Any]], counts: dict[str, int]) -> None:
    for start in range(0, len(rows), CHUNK):
        s.execute(insert(model), list(rows[start : start + CHUNK]))
    counts[model.__tablename__] = counts.get(model.__tablename__, 0) + len(rows)


def seed(
    s: Session,
    *,
    course: Course,
    learners: int = 5000,
    rng: random.Random,
    issuer: str = "https://lms.example.org",
    token_url: str = "https://lms.example.org/mod/lti/token.php",
    client_id: str = CLIENT_ID,
    deployment_id: str = DEPLOYMENT_ID,
    context_id: str = LMS_COURSE,
    nrps_url: str | None = None,
    first_sub: int = FIRST_SUB,
) -> Seeded:
    """One platform, deployment, context and course activity; `learners` learners on the roster (about 10 %
    never launched) with progress in every state, quiz attempts, practice tasks, course results,
    certificates and grade outbox rows (sent, pending, failed with reasons, superseded). Bulk inserts; the
    same `rng` seed gives the same data. Flushes, never commits."""
    now = utcnow()
    epoch = now - dt.timedelta(days=120)

    def when(after: dt.datetime, days: float) -> dt.datetime:
        return min(after + dt.timedelta(seconds=rng.uniform(60, days * 86400)), now)

    platform = Platform(
        issuer=issuer,
        client_id=client_id,
        name="Bench-LMS",
        auth_login_url=issuer + "/auth",
        auth_token_url=token_url,
        jwks_url=issuer + "/jwks",
        registered_via="cli",
    )
    s.add(platform)
    s.flush()
    deployment = Deployment(
        platform_id=platform.id, deployment_id=deployment_id, active=True, approved_at=epoch
    )
    s.add(deployment)
    s.flush()
    context = Context(
        deployment_id=deployment.id,
        context_id=context_id,
        title="Grundlagenkurs NaMa NRW",
        label="NaMa",
        nrps_url=nrps_url,
        lineitems_url=issuer + f"/mod/lti/services.php/{context_id}/lineitems?type_id=1",
        roster_fetched_at=now - dt.timedelta(hours=2),
    )
    s.add(context)
    s.flush()
    link = ResourceLink(
        deployment_id=deployment.id,
        context_id=context.id,
        resource_link_id="1",
        title="Grundlagenkurs",
        course_id=course.id,
        lineitem_url=issuer + f"/mod/lti/services.php/{context_id}/lineitems/1/lineitem?type_id=1",
    )
    s.add(link)
    s.flush()
    counts: dict[str, int] = {}
    module_items = {
        m.id: issuer + f"/mod/lti/services.php/{context_id}/lineitems/{10 + m.position}/lineitem?type_id=1"
        for m in course.modules
    }
    _bulk(
        s,
        LineItem,
        [
            {
                "context_id": context.id,
                "url": url,
                "resource_id": module_id,
                "label": module_id,
                "tag": "nama",
            }
            for module_id, url in module_items.items()
        ],
        counts,
    )

    people = []
    for n in range(learners):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        people.append(
            {
                "sub": str(first_sub + n),
                "name": f"{given} {family}",
                "given_name": given,
                "family_name": family,
                "email": f"{given}.{family}.{n}@{rng.choice(TOWNS).lower()}.example.org".lower(),
                "launched": rng.random() >= 0.1,
            }
        )
    _bulk(
        s,
        RosterEntry,
        [
            {
                "context_id": context.id,
                "sub": p["sub"],
                "name": p["name"],
                "email": p["email"],
                "roles": ["Learner"],
                "is_learner": True,
                "status": "Active",
                "fetched_at": context.roster_fetched_at,
            }
            for p in people
        ],
        counts,
    )
    launched = [p for p in people if p["launched"]]
    for p in launched:
        p["first"] = when(epoch, 30)
    _bulk(
        s,
        User,
        [
            {
                "platform_id": platform.id,
                "sub": p["sub"],
                "name": p["name"],
                "given_name": p["given_name"],
                "family_name": p["family_name"],
                "email": p["email"],
                "created_at": p["first"],
                "last_launch_at": when(p["first"], 60),
            }
            for p in launched
        ],
        counts,
    )
    user_ids = dict(s.execute(select(User.sub, User.id).where(User.platform_id == platform.id)).all())
    for p in launched:
        p["id"] = user_ids[p["sub"]]
    _bulk(
        s,
        Membership,
        [
            {
                "user_id": p["id"],
                "context_id": context.id,
                "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
                "is_instructor": False,
                "created_at": p["first"],
                "last_launch_at": p["first"],
            }
            for p in launched
        ],
        counts,
    )
    _bulk(
        s,
        LinkLaunch,
        [{"resource_link_id": link.id, "user_id": p["id"], "first_launch_at": p["first"]} for p in launched],
        counts,
    )

    modules = list(course.modules)
    pass_score = course.pass_mark / 100
    progress_rows: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    practice: list[dict[str, Any]] = []
    course_rows: list[dict[str, Any]] = []
    certificates: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []

    def grade(p: dict[str, Any], target: str, module_id: str | None, score: float, at: dt.datetime) -> None:
        roll = rng.random()
        url = module_items[module_id] if module_id else link.lineitem_url
        payload = {
            "userId": p["sub"],
            "scoreGiven": round(score * 100, 1),
            "scoreMaximum": 100,
            "activityProgress": "Completed" if score >= pass_score else "InProgress",
            "gradingProgress": "FullyGraded",
            "timestamp": at.isoformat(timespec="milliseconds"),
            "comment": None,
        }
        row: dict[str, Any] = {
            "platform_id": platform.id,
            "user_id": p["id"],
            "context_id": context.id,
            "resource_link_id": None if module_id else link.id,
            "target": target,
            "lineitem_url": url,
            "payload": payload,
            "score_timestamp": payload["timestamp"],
            "course_id": course.id,
            "module_id": module_id,
            "created_at": at,
            "next_attempt_at": at,
            "attempts": 1,
            "last_attempt_at": at,
        }
        if roll < 0.85:
            row.update(state="sent", sent_at=at + dt.timedelta(seconds=2), last_status=200)
        elif roll < 0.92:
            row.update(state="pending", attempts=rng.randint(0, 3), next_attempt_at=now)
        elif roll < 0.97:
            row.update(state="failed", last_status=400, last_error=rng.choice(FAILURES), attempts=1)
        else:  # an older score superseded by a newer pending one
            outbox.append({**row, "state": "superseded", "attempts": 0})
            later = at + dt.timedelta(minutes=5)
            row.update(
                state="pending",
                created_at=later,
                payload={**payload, "timestamp": later.isoformat(timespec="milliseconds")},
                score_timestamp=later.isoformat(timespec="milliseconds"),
                attempts=rng.randint(1, 4),
                last_status=503,
                last_error="503 Service Unavailable: maintenance",
                next_attempt_at=now + dt.timedelta(minutes=10),
            )
        outbox.append(row)

    for p in launched:
        done = rng.choices(range(len(modules) + 1), weights=[8, 12, 10, 9, 8, 8, 8, 9, 28])[0]
        in_progress = done < len(modules) and rng.random() < 0.7
        at = p["first"]
        scores = []
        for index, module in enumerate(modules[: done + (1 if in_progress else 0)]):
            complete = index < done
            started = at = when(at, 6)
            questions = module.quiz.questions
            tries = rng.choices([1, 2, 3, 4], weights=[60, 25, 10, 5])[0] if complete else rng.randint(0, 2)
            best = 0.0
            passed_at = None
            for attempt in range(tries):
                last = attempt == tries - 1
                correct = (
                    rng.randint(-(-len(questions) * course.pass_mark // 100), len(questions))
                    if complete and last
                    else rng.randint(0, len(questions))
                )
                score = correct / len(questions)
                at = when(at, 1)
                best = max(best, score)
                if score >= pass_score and passed_at is None:
                    passed_at = at
                attempts.append(
                    {
                        "public_id": f"{rng.getrandbits(128):032x}",
                        "user_id": p["id"],
                        "context_id": context.id,
                        "course_id": course.id,
                        "module_id": module.id,
                        "layout": {q.id: [o.id for o in q.options] for q in questions},
                        "answers": {q.id: [rng.choice(q.options).id] for q in questions},
                        "correct_count": correct,
                        "question_count": len(questions),
                        "score": score,
                        "passed": score >= pass_score,
                        "started_at": at - dt.timedelta(minutes=rng.randint(2, 20)),
                        "submitted_at": at,
                    }
                )
            if not complete and rng.random() < 0.3:  # a quiz shown, never submitted
                attempts.append(
                    {
                        "public_id": f"{rng.getrandbits(128):032x}",
                        "user_id": p["id"],
                        "context_id": context.id,
                        "course_id": course.id,
                        "module_id": module.id,
                        "layout": {q.id: [o.id for o in q.options] for q in questions},
                        "question_count": len(questions),
                        "started_at": at,
                    }
                )
            practice_at = None
            if complete or rng.random() < 0.3:
                practice_at = at = when(at, 2)
                reviewed = rng.random() < 0.5
                practice.append(
                    {
                        "user_id": p["id"],
                        "context_id": context.id,
                        "course_id": course.id,
                        "module_id": module.id,
                        "text": f"In {rng.choice(TOWNS)} "
                        + "gehen wir das Thema gemeinsam an. " * rng.randint(8, 30),
                        "submitted_at": practice_at,
                        "updated_at": practice_at,
                        "reviewed_at": when(practice_at, 5) if reviewed else None,
                        "feedback": "Gut begründet, danke!" if reviewed else None,
                    }
                )
            lessons = len(module.lessons)
            progress_rows.append(
                {
                    "user_id": p["id"],
                    "context_id": context.id,
                    "course_id": course.id,
                    "module_id": module.id,
                    "lessons_seen": lessons if complete else rng.randint(1, lessons),
                    "attempts": tries,
                    "best_score": best if tries else None,
                    "quiz_passed_at": passed_at,
                    "practice_submitted_at": practice_at,
                    "started_at": started,
                    "completed_at": at if complete else None,
                    "updated_at": at,
                }
            )
            if tries:
                scores.append(best)
                grade(p, f"module:{course.id}/{module.id}@lineitems", module.id, best, at)
        if not scores and not in_progress and done == 0:
            continue
        complete_course = done == len(modules)
        course_rows.append(
            {
                "user_id": p["id"],
                "context_id": context.id,
                "course_id": course.id,
                "last_module_id": modules[min(done, len(modules) - 1)].id,
                "started_at": p["first"],
                "completed_at": at if complete_course else None,
                "updated_at": at,
            }
        )
        if scores:
            grade(p, f"course:{course.id}@link:{link.id}", None, sum(scores) / len(modules), at)
        if complete_course:
            certificates.append(
                {
                    "code": f"{rng.getrandbits(60):015X}",
                    "user_id": p["id"],
                    "context_id": context.id,
                    "course_id": course.id,
                    "holder_name": p["name"],
                    "course_title": course.title,
                    "issuer_name": course.issuer,
                    "modules": [
                        {"position": m.position, "title": m.title, "completed_at": at.isoformat()}
                        for m in modules
                    ],
                    "completed_at": at,
                    "issued_at": when(at, 3),
                }
            )
    _bulk(s, ModuleProgress, progress_rows, counts)
    _bulk(s, QuizAttempt, attempts, counts)
    _bulk(s, PracticeSubmission, practice, counts)
    _bulk(s, CourseProgress, course_rows, counts)
    _bulk(s, Certificate, certificates, counts)
    outbox.sort(key=lambda r: r["created_at"])  # ids grow with time, as the outbox's do
    _bulk(s, GradeOutbox, outbox, counts)
    s.flush()
    return Seeded(platform.id, deployment.id, context.id, link.id, counts)


# --- The run -----------------------------------------------------------------------------------------


@contextmanager
def fresh_database(admin_url: str | None) -> Iterator[str]:
    """A new, empty database URL (SQLite in a temporary folder, or a PostgreSQL database dropped afterwards)."""
    if not admin_url:
        with tempfile.TemporaryDirectory(prefix="nama-bench-gb-") as tmp:
            yield f"sqlite:///{tmp}/tool.db"
        return
    import psycopg

    url = make_url(admin_url)
    name = f"nama_bench_gradebook_{uuid.uuid4().hex[:8]}"
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")


def launch_instructor(lms_url: str) -> str:
    """A browser launching activity 1 from the demo LMS as its teacher; returns the tool session token."""
    browser = requests.Session()
    start = browser.get(
        f"{lms_url}/api/launch", params={"activity": 1, "user": INSTRUCTOR}, timeout=10
    ).json()
    login = browser.get(start["url"], allow_redirects=False, timeout=10)
    auth = browser.get(login.headers["Location"], timeout=10)
    form = _Form()
    form.feed(auth.text)
    launched = browser.post(form.action, data=form.fields, allow_redirects=False, timeout=10)
    if launched.status_code != 303:
        raise RuntimeError(f"instructor launch failed: {launched.status_code} {launched.text[:300]}")
    found = re.search(r"/s/([^/?]+)/", launched.headers["Location"])
    if found is None:
        raise RuntimeError(f"no session token in {launched.headers['Location']}")
    return found.group(1)


def enrol(lms_app: Any, learners: int) -> None:
    with lms_app.extensions[EXTENSION].store.tx() as session:
        session.execute(
            insert(LmsUser),
            [
                {
                    "id": str(FIRST_SUB + n),
                    "username": f"learner{FIRST_SUB + n}",
                    "full_name": f"Lernende {n}",
                    "given_name": "Lernende",
                    "family_name": str(n),
                    "email": f"learner{FIRST_SUB + n}@example.org",
                    "course_role": "Learner",
                }
                for n in range(learners)
            ],
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # nearest rank


def heading(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip()[:80] if found else "(no <h1>)"


def shown(url: str) -> str:
    return re.sub(r"/s/[^/]+/", "/s/<sid>/", url)


def measure(client: Any, label: str, url: str, repeat: int) -> None:
    first = client.get(url)  # warm-up: templates compiled, catalog and caches loaded
    if first.status_code == 404:
        print(f"{label:<28} 404 NOT AVAILABLE (not merged yet?): {shown(url)}")
        return
    if first.status_code != 200:
        print(
            f"{label:<28} HTTP {first.status_code}, skipped: {shown(url)} {first.get_data(as_text=True)[:200]!r}"
        )
        return
    times, cpu, queries, size = [], [], set(), 0
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        body = response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        queries.add(response.headers.get("X-Query-Count", "?"))
        size = len(body)
    kind = response.mimetype
    what = f"h1 {heading(body.decode())!r}" if kind == "text/html" else kind
    print(
        f"{label:<28} median {statistics.median(times):7.1f} ms  p95 {percentile(times, 0.95):7.1f} ms  "
        f"CPU median {statistics.median(cpu):7.1f} ms  "
        f"SQL/render {','.join(sorted(queries))}  {size / 1024:8.1f} KiB  ({what})"
    )


def profile(client: Any, url: str, repeat: int, top: int) -> None:
    """cProfile over `repeat` renders of one page (wall clock: time spent waiting on PostgreSQL shows in the
    driver's functions)."""
    import cProfile
    import pstats

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    spent: dict[str, list[float]] = {}

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        took = (time.perf_counter() - conn.info.pop("bench_started")) * 1000
        spent.setdefault(" ".join(statement.split())[:110], []).append(took)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    for _ in range(repeat):
        client.get(url).get_data()
    event.remove(Engine, "before_cursor_execute", before)
    event.remove(Engine, "after_cursor_execute", after)
    print(f"SQL statements of {shown(url)}: median ms per execution (without fetching), executions")
    for statement, took in sorted(spent.items(), key=lambda item: -sum(item[1])):
        print(f"  {statistics.median(took):7.2f} ms  {len(took):4d}x  {statement}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        client.get(url).get_data()
    profiler.disable()
    print(f"cProfile, {repeat} renders of {shown(url)}:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20, help="renders per page (after one warm-up)")
    parser.add_argument("--export-repeat", type=int, default=3, help="downloads per CSV export")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--middle-page", type=int, default=0, help="default: the middle by GRADEBOOK_PAGE_SIZE"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL server (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres): a fresh "
        "database is created there and dropped afterwards. Default: SQLite in a temporary folder",
    )
    parser.add_argument("--content-dir", default=str(ROOT / "content"))
    parser.add_argument(
        "--cprofile",
        type=int,
        default=0,
        metavar="N",
        help="after the pages: profile --repeat renders of the middle page, print the top N functions (tottime)",
    )
    parser.add_argument(
        "--only",
        choices=("all", "pages", "csv"),
        default="all",
        help="pages: the two gradebook pages; csv: the gradebook export (noten.csv, --repeat downloads); "
        "default: pages, both exports and the roster refresh",
    )
    args = parser.parse_args()

    import logging

    logging.disable(logging.INFO)
    print(
        f"learners {args.learners} x 8 modules, repeat {args.repeat}, seed {args.seed}, "
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
        tool_server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=tool_server.serve_forever, daemon=True).start()
        tool_url = f"http://127.0.0.1:{tool_server.server_port}"
        lms_app = create_demo_lms(
            {
                "TOOLS": [
                    {
                        "client_id": CLIENT_ID,
                        "deployment_id": DEPLOYMENT_ID,
                        "name": "NaMa-Werkzeug",
                        "login_url": f"{tool_url}/lti/login",
                        "redirect_uris": [f"{tool_url}/lti/launch"],
                        "target_link_uri": f"{tool_url}/lti/launch",
                        "deep_link_url": f"{tool_url}/lti/launch",
                        "jwks_url": f"{tool_url}/.well-known/jwks.json",
                        "scopes": SERVICE_SCOPES,
                    }
                ]
            }
        )
        lms = serve_in_thread(lms_app)
        try:
            run(app, lms.url, lms_app, args)
        finally:
            lms.stop()
            close_demo_lms(lms_app)
            tool_server.shutdown()
            app.extensions["nama_db"].dispose()


def run(app: Any, lms_url: str, lms_app: Any, args: argparse.Namespace) -> None:
    course = get_catalog(app).get(COURSE_ID)
    assert course is not None, f"no {COURSE_ID} in {args.content_dir}"
    nrps_url = f"{lms_url}/mod/lti/services.php/CourseSection/{LMS_COURSE}/bindings/1/memberships"
    started = time.perf_counter()
    with session_scope(app, write=True) as s:
        keys.ensure_keys(s, app)
        seeded = seed(
            s,
            course=course,
            learners=args.learners,
            rng=random.Random(args.seed),
            issuer=lms_url,
            token_url=lms_url + "/mod/lti/token.php",
            nrps_url=nrps_url,
        )
    print(
        f"seeded in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in seeded.counts.items())
    )
    # The rows were written in bulk, not through the progress service: fill the gradebook's per-learner summary
    # from them as migration 0018 and `flask gradebook rebuild-summary` do.
    started = time.perf_counter()
    with session_scope(app, write=True) as s:
        summarised = rebuild_summary(s)
    print(f"summary rebuilt in {time.perf_counter() - started:.1f} s: {summarised} learners")
    # A database that grew over months has planner statistics (autovacuum's ANALYZE); a bulk load just done has
    # none yet, and PostgreSQL then plans the gradebook query badly (seconds instead of milliseconds).
    started = time.perf_counter()
    with session_scope(app, write=True) as s:
        s.execute(text("ANALYZE"))
    print(f"ANALYZE (planner statistics, as autovacuum keeps them) in {time.perf_counter() - started:.1f} s")
    enrol(lms_app, args.learners)
    print(
        f"peak RSS after seeding {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (this process)"
    )

    sid = launch_instructor(lms_url)
    print("instructor session: real LTI launch from the demo LMS (user 3, activity 1)")
    client = app.test_client()
    middle = args.middle_page or max(1, -(-args.learners // GRADEBOOK_PAGE_SIZE) // 2)
    page = GRADEBOOK_PAGE.format(sid=sid)
    if args.only == "csv":
        measure(client, "export noten.csv", GRADES_CSV.format(sid=sid), args.repeat)
        return
    measure(client, "gradebook page 1", page, args.repeat)
    measure(client, f"gradebook page {middle}", f"{page}?{PAGE_PARAM}={middle}", args.repeat)
    if args.cprofile:
        profile(client, f"{page}?{PAGE_PARAM}={middle}", args.repeat, args.cprofile)
    if args.only == "pages":
        return
    measure(client, "export noten.csv", GRADES_CSV.format(sid=sid), args.export_repeat)
    measure(client, "export abschluesse.csv", COMPLETIONS_CSV.format(sid=sid), args.export_repeat)

    print(f"roster refresh: NRPS_PAGE_SIZE {app.config['NRPS_PAGE_SIZE']}, demo LMS on loopback")
    for label in ("first (token request)", "again (token cached)"):
        with app.app_context():
            started = time.perf_counter()
            try:
                with session_scope(app) as s:
                    context = s.get(Context, seeded.context_id)
                    assert context is not None
                    source = roster_source(s, context)
                fetched = fetch_roster(source, app)
                with session_scope(app, write=True) as s:
                    result = store_roster_refresh(s, source, fetched)
            except RosterError as exc:
                print(f"  {label}: RosterError {exc.code}: {exc.detail}")
                continue
            took = time.perf_counter() - started
        print(
            f"  {label:<22} {took * 1000:7.0f} ms  members {result.members}, learners {result.learners}, "
            f"pages {result.pages}, removed {result.removed}"
        )
    with app.app_context(), session_scope(app) as s:
        platform = s.get(Platform, seeded.platform_id)
        assert platform is not None
        token = access_tokens(app).get(PlatformInfo.of(platform), [NRPS_SCOPE], shared_session(app))
    started, pages = time.perf_counter(), 0
    url: str | None = with_page_size(nrps_url, int(app.config["NRPS_PAGE_SIZE"]))
    while url:
        response = requests.get(
            url, headers={"Authorization": f"Bearer {token}", "Accept": CONTAINER_TYPE}, timeout=30
        )
        response.raise_for_status()
        pages += 1
        url = response.links.get("next", {}).get("url")
    took = time.perf_counter() - started
    print(f"  {'same pages, plain GET':<22} {took * 1000:7.0f} ms  ({pages} pages: the demo LMS's own share)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (this process: tool, demo LMS, seeding) {peak:.0f} MB")


if __name__ == "__main__":
    main()
