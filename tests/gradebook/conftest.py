"""A teacher launched into the peer's course context, and learners built through the tool's services (launch
provisioning, progress, roster, the grade worker's steps; `add_learners` writes many rows at once for the
statement-count tests), with progress, practice texts and grade rows in chosen states."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lti_tool import progress
from lti_tool.course.catalog import get_catalog
from lti_tool.course.model import Course
from lti_tool.db import session_scope
from lti_tool.gradebook.roster import Member
from lti_tool.grading.outbox import RowState
from lti_tool.models import (
    Context,
    CourseProgress,
    GradeOutbox,
    Membership,
    ModuleProgress,
    PracticeSubmission,
    ResourceLink,
    User,
)
from lti_tool.privacy.learner_data import OWNED_BY_USER
from lti_tool.progress import Learner as ProgressLearner

from ..course.learner import Learner, work
from ..peer import INSTRUCTOR, LTI, Launcher
from ..services import LEARNER_ROLE, add_to_roster, launch, take_grades

COURSE = "grundlagenkurs"
MODULES = ("modul-a", "modul-b")


def launch_teacher(launcher: Launcher, sub: str = "teacher-1", **claims: Any) -> Learner:
    claims.setdefault(LTI + "roles", INSTRUCTOR)
    claims.setdefault("name", "Tanja Lehrerin")
    return Learner.launch(launcher, sub=sub, **claims)


@pytest.fixture
def teacher(launcher: Launcher) -> Learner:
    """The peer's teacher, launched into course context "course-1" (landing on the gradebook)."""
    return launch_teacher(launcher)


@dataclass(frozen=True)
class Place:
    context_id: int
    platform_id: int


def place(app: Flask, context_id: str = "course-1", issuer: str | None = None) -> Place:
    """The tool's ids of a launched course context."""
    with session_scope(app) as s:
        query = select(Context.id, User.platform_id).join(Membership, Membership.context_id == Context.id)
        query = query.join(User, User.id == Membership.user_id).where(Context.context_id == context_id)
        row = s.execute(query.limit(1)).one()
        return Place(row[0], row[1])


def add_learner(
    app: Flask,
    where: Place,
    sub: str,
    *,
    name: str | None = None,
    email: str | None = None,
    roster: bool = False,
    launched: bool = True,
    done: tuple[str, ...] = (),
    started: tuple[str, ...] = (),
    practice: dict[str, str] | None = None,
    reviewed: tuple[str, ...] = (),
    course_completed: bool = False,
    grade_state: str | None = None,
    grade_error: str = "Incorrect score received",
    at: dt.datetime | None = None,
) -> int | None:
    """One learner, built through the services the tool itself uses (no row written by hand): a roster entry as a
    roster refresh stores it, a launch of the course's activity as the LTI launch provisions it, progress through
    the progress services (a module `done`: every lesson read, the quiz passed, the practice text submitted;
    `started`: its first lesson read), `practice` texts submitted and `reviewed` by the context's teacher.

    `grade_state`: the activity has a grade column (AGS), the learner's course grade is queued by their progress
    (a first quiz attempt is taken when nothing else is graded) and a worker's steps bring it to that state
    ("failed" with `grade_error` as the platform's answer): this course's two modules give 0, 50 or 100. `at`: the
    learner's rows moved back in time, as if it all began then. Returns the user id (None: roster only)."""
    course = get_catalog(app).get(COURSE)
    assert course is not None
    with session_scope(app, write=True) as s:
        context = s.get(Context, where.context_id)
        assert context is not None
        link = s.scalars(
            select(ResourceLink).where(ResourceLink.context_id == context.id).order_by(ResourceLink.id)
        ).first()
        activity = (
            {"id": link.resource_link_id, "title": link.title}
            if link
            else {"id": f"{context.context_id}-kurs"}
        )
        place_claim = {"id": context.context_id, "title": context.title, "label": context.label}
        deployment_pk = context.deployment_id
        teacher = s.scalars(
            select(Membership.user_id).where(Membership.context_id == context.id, Membership.is_instructor)
        ).first()
    if roster:
        add_to_roster(app, where.context_id, Member(sub, name, email, [LEARNER_ROLE], "Active", True))
    if not launched:
        return None
    launched_as = launch(
        app,
        deployment_pk,
        sub,
        context=place_claim,
        link=activity,
        lineitem=LINEITEMS + "/1" if grade_state is not None else None,
        name=name,
        email=email,
    )
    user_id = launched_as.user_id
    learner = ProgressLearner(user_id, where.context_id, where.platform_id, launched_as.resource_link_id)
    texts = practice or {}
    for module_id in done:
        work(app, learner, course, module_id, score=1.0, completed=True, **_text(texts, module_id))
    for module_id in started:
        work(app, learner, course, module_id)
    for module_id, text in texts.items():
        if module_id not in done:
            _write(app, progress.save_practice, learner, _edition_with(course, module_id), module_id, text)
    for module_id in reviewed:
        assert teacher is not None, "a review needs the context's teacher: launch the teacher first"
        _write(
            app,
            progress.review_practice,
            learner,
            course,
            module_id,
            reviewer_id=teacher,
            feedback="Gut gemacht.",
        )
    if grade_state is not None:
        _grade(app, learner, course, (*done, *started, *texts, "modul-a")[0], grade_state, grade_error)
    with session_scope(app) as s:
        assert bool(progress.course_state(s, learner, course).completed_at) == course_completed
    if at is not None:
        _move_back(app, user_id, at)
    return user_id


LINEITEMS = "https://lms.example/lineitems"


def _edition_with(course: Course, module_id: str) -> Course:
    """The course, or an earlier edition of it that still had `module_id` (a module removed since: a copy of the
    first module under that id), for work done before the module went."""
    if course.module(module_id) is not None:
        return course
    gone = dataclasses.replace(course.modules[0], id=module_id, position=len(course.modules) + 1)
    return dataclasses.replace(course, modules=(*course.modules, gone))


def _text(texts: dict[str, str], module_id: str) -> dict[str, str]:
    return {"text": texts[module_id]} if module_id in texts else {}


def _write(
    app: Flask,
    service: Any,
    learner: ProgressLearner,
    course: Course,
    module_id: str,
    *args: Any,
    **kwargs: Any,
) -> Any:
    module = course.module(module_id)
    assert module is not None, module_id
    with session_scope(app, write=True) as s:
        return service(s, learner, course, module, *args, **kwargs)


def _grade(
    app: Flask,
    learner: ProgressLearner,
    course: Course,
    module_id: str,
    state: str,
    error: str,
) -> None:
    """The learner's course grade queued by their progress, then taken by a worker to `state`."""
    mine = GradeOutbox.user_id == learner.user_id
    with session_scope(app) as s:
        queued = s.scalar(select(func.count()).select_from(GradeOutbox).where(mine))
    if not queued:  # nothing graded yet: a first quiz attempt (one answer right)
        module = course.module(module_id)
        assert module is not None
        work(app, learner, course, module_id, score=1 / len(module.quiz.questions))
    if state != RowState.PENDING:
        take_grades(app, learner.user_id, state, error=error)


def _move_back(app: Flask, user_id: int, to: dt.datetime) -> None:
    """The same rows, reached earlier: every time in the learner's rows moved by one amount, so that the earliest
    is `to` (the rest follow within the seconds the building took)."""
    with session_scope(app, write=True) as s:
        rows: list[Any] = [s.get(User, user_id)]
        for model in OWNED_BY_USER:
            rows += s.scalars(select(model).where(model.__table__.c.user_id == user_id))
        times = [
            (row, column.key)
            for row in rows
            for column in row.__table__.columns
            if isinstance(getattr(row, column.key), dt.datetime)
        ]
        by = min(getattr(row, key) for row, key in times) - to
        for row, key in times:
            setattr(row, key, getattr(row, key) - by)


def add_learners(app: Flask, where: Place, count: int, *, prefix: str = "bulk") -> None:
    """`count` learners with a bit of everything, built as `add_learner` builds one: a third only on the roster
    (one roster refresh for all), the others launched with both modules under way (their texts submitted; a grade
    sent, or failed), done, or done and reviewed (their course grade sent)."""
    kinds = {f"{prefix}-{n:05d}": (n, n % 6) for n in range(count)}
    add_to_roster(
        app,
        where.context_id,
        *(
            Member(sub, f"Lernende {n:05d}", f"{sub}@example.org", [LEARNER_ROLE], "Active", True)
            for sub, (n, _) in kinds.items()
        ),
    )
    texts = {module_id: "Ein Text über unsere Kommune und ihr Leitbild." for module_id in MODULES}
    for sub, (n, kind) in kinds.items():
        if kind in (0, 1):
            continue  # never launched
        name = f"Lernende {n:05d}"
        if kind in (2, 3):
            state = "failed" if kind == 3 else "sent"
            add_learner(app, where, sub, name=name, started=MODULES, practice=texts, grade_state=state)
        else:
            reviewed = MODULES if kind == 5 else ()
            add_learner(
                app,
                where,
                sub,
                name=name,
                done=MODULES,
                reviewed=reviewed,
                course_completed=True,
                grade_state="sent",
            )


def user_id(app: Flask, sub: str) -> int:
    with session_scope(app) as s:
        return int(s.scalars(select(User.id).where(User.sub == sub)).one())


def snapshot(app: Flask) -> list[Any]:
    """Everything a gradebook action could change."""
    with session_scope(app) as s:
        return [
            s.execute(
                select(
                    PracticeSubmission.id,
                    PracticeSubmission.text,
                    PracticeSubmission.reviewed_at,
                    PracticeSubmission.reviewer_id,
                    PracticeSubmission.feedback,
                ).order_by(PracticeSubmission.id)
            ).all(),
            s.execute(
                select(
                    GradeOutbox.id, GradeOutbox.state, GradeOutbox.next_attempt_at, GradeOutbox.payload
                ).order_by(GradeOutbox.id)
            ).all(),
            s.execute(
                select(ModuleProgress.id, ModuleProgress.completed_at, ModuleProgress.updated_at)
            ).all(),
            s.execute(
                select(CourseProgress.id, CourseProgress.completed_at, CourseProgress.updated_at)
            ).all(),
            s.scalar(select(func.count()).select_from(GradeOutbox)),
        ]


NAMES_IN_TABLE = re.compile(
    r'<th scope="row"[^>]*>\s*(?:<a href="[^"]+">)?([^<]+?)(?:</a>)?\s*(?:<span class="cell-email"|<ul|</th>)',
    re.S,
)


def listed_names(html: str) -> list[str]:
    """The learners' names in the gradebook table, in order."""
    return [name.strip() for name in NAMES_IN_TABLE.findall(html)]
