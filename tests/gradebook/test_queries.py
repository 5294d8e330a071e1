"""The gradebook costs a fixed number of SQL statements, whatever the number of learners: counted per request
by the benchmark counter (X-Query-Count), and per batch while a CSV export streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from lti_tool import create_app
from lti_tool.db import get_db
from lti_tool.gradebook import views
from lti_tool.security import platform_origins

from ..peer import Launcher
from .conftest import add_learner, add_learners, launch_teacher, place, user_id

# Per gradebook page: the session (1) + the page of people with their course progress and the counts per filter
# (1, from the per-learner summary) + module progress, practice tasks and newest grade rows of that page (3) +
# whether the launched activity takes grades (1) + grades for items deleted in the LMS (1) + the context's grade
# items, to find missing ones (1) = 8; SQLite adds its BEGIN.
GRADEBOOK_STATEMENTS = 9
# Learner page: session, learner, module progress, practice, lesson visits, attempts, course progress,
# certificate, grade rows = 9; + BEGIN.
LEARNER_STATEMENTS = 10


@pytest.fixture
def app(test_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app({**test_config, "BENCH_COUNT_QUERIES": True, "ENV": "development"})
    yield application
    application.extensions["nama_db"].dispose()


def statements(resp: Any) -> int:
    assert resp.status_code == 200, resp.text[:500]
    return int(resp.headers["X-Query-Count"])


def measured(app: Flask, teacher: Any, path: str) -> int:
    """Statements of one request, without the work done once a minute by whichever request comes then: the
    platform origins for the CSP header (lti_tool/security.py) are read afresh here beforehand, and a request
    just before takes the session's last-seen write and the per-process platform caches, which fall due in the
    middle of the test whenever adding the learners took over a minute (a slow machine)."""
    statements(teacher.get(path))
    origins = platform_origins(app)
    origins.invalidate()
    origins.load(app)
    return statements(teacher.get(path))


def test_gradebook_statements_do_not_grow_with_the_learners(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    add_learners(app, where, 10, prefix="first")
    small = {
        view: measured(app, teacher, f"lehrende/{query}")
        for view, query in [
            ("name", ""),
            ("progress", "?sortierung=fortschritt"),
            ("activity, failed", "?sortierung=aktivitaet&filter=fehlgeschlagen"),
        ]
    }
    add_learners(app, where, 190, prefix="more")
    large = {
        view: measured(app, teacher, f"lehrende/{query}")
        for view, query in [
            ("name", ""),
            ("progress", "?sortierung=fortschritt"),
            ("activity, failed", "?sortierung=aktivitaet&filter=fehlgeschlagen"),
        ]
    }
    assert "200 Teilnehmer*innen" in teacher.get("lehrende/").text
    assert small == large, (small, large)
    assert all(count <= GRADEBOOK_STATEMENTS for count in large.values()), large


def test_learner_page_statements_do_not_grow_with_the_work(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    add_learner(app, where, "little", name="Lena Wenig")
    add_learner(
        app,
        where,
        "much",
        name="Max Viel",
        done=("modul-a", "modul-b"),
        practice={
            "modul-a": "Der erste Text über die Kommune.",
            "modul-b": "Der zweite Text über die Kommune.",
        },
        reviewed=("modul-a",),
        course_completed=True,
        grade_state="failed",
    )
    little = measured(app, teacher, f"lehrende/lernende/{user_id(app, 'little')}")
    much = measured(app, teacher, f"lehrende/lernende/{user_id(app, 'much')}")
    assert little == much <= LEARNER_STATEMENTS, (little, much)


def test_export_streams_and_reads_the_details_once(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statements are issued while the response is read (not before the first byte); the learners are read a
    batch at a time, their module progress and grade rows once for the course, so that the number of statements
    is the same for batches of 10 and of 1,000."""
    teacher = launch_teacher(launcher)
    add_learners(app, place(app), 30)
    issued: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        issued.append(statement)

    def export(batch: int) -> tuple[int, list[str], str]:
        monkeypatch.setattr(views, "EXPORT_BATCH", batch)
        issued.clear()
        engine = get_db(app).engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            client = app.test_client()
            resp = client.get(f"/s/{teacher.sid}/lehrende/export/notenliste.csv", buffered=False)
            assert resp.status_code == 200 and resp.is_streamed
            chunks: Iterator[str | bytes] = iter(resp.response)
            first = next(chunks)
            at_first_byte = len(issued)
            rest = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
            resp.close()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        text = ((first if isinstance(first, bytes) else first.encode()) + rest).decode("utf-8")
        return at_first_byte, list(issued), text

    at_first_byte, small, text = export(10)
    assert text.count("\r\n") == 31  # header + 30 learners
    assert len(small) > at_first_byte
    progress_reads = [s for s in small[at_first_byte:] if "FROM module_progress" in s and "GROUP BY" not in s]
    grade_reads = [s for s in small[at_first_byte:] if "FROM grade_outbox" in s]
    assert len(progress_reads) == len(grade_reads) == 1, (progress_reads, grade_reads)
    _, large, same = export(1000)
    assert same == text
    assert len(large) == len(small), (large, small)
