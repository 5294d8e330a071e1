"""A launched learner driving the learner pages over HTTP, and helpers to answer quizzes from the test side."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import requests
from flask import Flask
from sqlalchemy import func, select

from lti_tool import progress
from lti_tool.course.catalog import get_catalog
from lti_tool.course.model import Course, Module
from lti_tool.db import session_scope
from lti_tool.models import Context, Membership, QuizAttempt, User
from lti_tool.progress import Learner as ProgressLearner

from ..forms import csrf_token, field, parse
from ..peer import LTI, Launcher

SESSION_BASE = re.compile(r"^(https?://[^/]+/s/[^/]+/)")


def _as_read(response: requests.Response) -> requests.Response:
    """The page as a person reads it: without the invisible soft hyphens the server puts into long words
    (lti_tool/typography.py), so that tests compare course text as written, in either direction."""
    if "text/html" in response.headers.get("Content-Type", ""):
        response._content = response.content.replace("\u00ad".encode(), b"")
    return response


class Learner:
    """One person in one launch: `get`/`post` take paths relative to the session's base (`m/modul-a/`)."""

    def __init__(self, launcher: Launcher, first: requests.Response) -> None:
        first = _as_read(first)
        assert first.status_code == 200, (first.status_code, first.text[:500])
        self.launcher = launcher
        self.http = launcher.browser
        self.page = first
        match = SESSION_BASE.match(first.url)
        assert match, first.url
        self.base = match.group(1)
        self.csrf = csrf_token(first.text)

    @classmethod
    def launch(cls, launcher: Launcher, sub: str = "user-1", **claims: Any) -> Learner:
        return cls(launcher, launcher.launch_and_follow(sub=sub, **claims))

    def url(self, path: str) -> str:
        return urljoin(self.base, path)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        self.page = _as_read(self.http.get(self.url(path), **kwargs))
        return self.page

    def post(
        self, path: str, data: dict[str, Any] | list[tuple[str, str]], *, csrf: bool = True, **kwargs: Any
    ) -> requests.Response:
        items = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            items.append(("csrf_token", self.csrf))
        self.page = _as_read(self.http.post(self.url(path), data=items, **kwargs))
        return self.page

    @property
    def sid(self) -> str:
        return self.base.rstrip("/").rsplit("/", 1)[1]


def answers(mod: Module, right: int | None = None) -> dict[str, list[str]]:
    """Answers to the module's quiz for the progress service: the first `right` questions (all: None) right, the
    rest wrong."""
    result: dict[str, list[str]] = {}
    for number, question in enumerate(mod.quiz.questions, start=1):
        if right is not None and number > right:
            if question.kind == "ordering":
                order = list(question.correct_order)
                result[question.id] = [order[1], order[0], *order[2:]]
            else:
                result[question.id] = [next(o.id for o in question.options if not o.correct)]
        elif question.kind == "ordering":
            result[question.id] = list(question.correct_order)
        else:
            result[question.id] = sorted(question.correct_option_ids)
    return result


def work(
    app: Flask,
    learner: ProgressLearner,
    crs: Course,
    module_id: str,
    *,
    score: float | None = None,
    completed: bool = False,
    text: str = "Unsere Kommune hat einen Nachhaltigkeitsbeirat.",
) -> None:
    """A learner's work in a module through the progress services, one transaction a step as the learner pages
    do it: a lesson read (with `completed`: every lesson and the practice text submitted), then with `score` a
    quiz attempt that scores it (the best score counts). `completed` asserts that the module is complete after."""
    mod = crs.module(module_id)
    assert mod is not None, module_id
    lessons = mod.lessons if completed else mod.lessons[:1]
    for lesson in lessons:
        with session_scope(app, write=True) as s:
            progress.record_lesson_view(s, learner, crs, mod, lesson.id)
    if completed:
        with session_scope(app, write=True) as s:
            if progress.get_practice(s, learner, crs, mod) is None:
                progress.save_practice(s, learner, crs, mod, text)
    if score is not None:
        questions = len(mod.quiz.questions)
        right = round(score * questions)
        assert right == score * questions, f"no score {score} in {module_id} ({questions} questions)"
        with session_scope(app, write=True) as s:
            attempt = progress.start_quiz_attempt(s, learner, crs, mod)
            progress.submit_quiz_attempt(s, learner, crs, mod, attempt.public_id, answers(mod, right))
    if completed:
        with session_scope(app) as s:
            assert progress.module_snapshot(s, learner, crs, mod).completed_at, f"{module_id} not complete"


def context_claim(context_id: str, title: str = "Anderer Kurs") -> dict[str, Any]:
    return {LTI + "context": {"id": context_id, "label": context_id, "title": title}}


def module_claim(module_id: str, link_id: str = "rl-module") -> dict[str, Any]:
    return {
        LTI + "custom": {"course": "grundlagenkurs", "module": module_id},
        LTI + "resource_link": {"id": link_id, "title": module_id},
    }


def course(app: Flask, course_id: str = "grundlagenkurs") -> Course:
    found = get_catalog(app).get(course_id)
    assert found is not None
    return found


def module(app: Flask, module_id: str = "modul-a", course_id: str = "grundlagenkurs") -> Module:
    found = course(app, course_id).module(module_id)
    assert found is not None
    return found


def attempt_id(html: str) -> str:
    return field(html, "versuch")


def layout_of(app: Flask, public_id: str) -> dict[str, list[str]]:
    with session_scope(app) as s:
        attempt = s.scalars(select(QuizAttempt).where(QuizAttempt.public_id == public_id)).one()
        return {k: list(v) for k, v in attempt.layout.items()}


def questions_of(app: Flask, public_id: str) -> list[str]:
    """The question ids the attempt asks, in its order (as stored with the attempt)."""
    with session_scope(app) as s:
        attempt = s.scalars(select(QuizAttempt).where(QuizAttempt.public_id == public_id)).one()
        assert attempt.question_ids is not None
        return [str(question_id) for question_id in attempt.question_ids]


def quiz_answers(
    app: Flask,
    module_id: str,
    public_id: str,
    right: int | None = None,
    course_id: str = "grundlagenkurs",
) -> list[tuple[str, str]]:
    """Form fields answering the attempt's questions: the first `right` questions right (all if None), the rest
    wrong. Field names/values are positions in the attempt's layout, as the page shows them."""
    mod = module(app, module_id, course_id)
    layout = layout_of(app, public_id)
    fields: list[tuple[str, str]] = [("versuch", public_id)]
    for number, question_id in enumerate(questions_of(app, public_id), start=1):
        question = mod.quiz.question(question_id)
        assert question is not None
        shown = layout[question.id]
        make_right = right is None or number <= right
        if question.kind == "ordering":
            order = list(question.correct_order)
            if not make_right:
                order[0], order[1] = order[1], order[0]
            for index, option_id in enumerate(shown, start=1):
                fields.append((f"q{number}.{index}", str(order.index(option_id) + 1)))
            continue
        wanted = question.correct_option_ids
        if not make_right:
            wrong = [o.id for o in question.options if not o.correct]
            wanted = frozenset(wrong[:1]) if question.kind != "multiple" else wanted | frozenset(wrong[:1])
        for index, option_id in enumerate(shown, start=1):
            if option_id in wanted:
                fields.append((f"q{number}", str(index)))
    return fields


def take_quiz(
    app: Flask, learner: Learner, module_id: str, right: int | None = None, course_id: str = "grundlagenkurs"
) -> requests.Response:
    page = learner.get(f"m/{module_id}/quiz")
    assert page.status_code == 200, page.text[:500]
    public_id = attempt_id(page.text)
    return learner.post(f"m/{module_id}/quiz", quiz_answers(app, module_id, public_id, right, course_id))


def count(app: Flask, model: Any, *where: Any) -> int:
    with session_scope(app) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def progress_learner(app: Flask, sub: str = "user-1", context_id: str = "course-1") -> ProgressLearner:
    """The progress service's view of a launched user (the first platform with this sub)."""
    with session_scope(app) as s:
        row = s.execute(
            select(User.id, Context.id, User.platform_id)
            .select_from(Membership)
            .join(User, User.id == Membership.user_id)
            .join(Context, Context.id == Membership.context_id)
            .where(User.sub == sub, Context.context_id == context_id)
            .order_by(User.id)
        ).first()
        assert row is not None, (sub, context_id)
        return ProgressLearner(user_id=row[0], context_id=row[1], platform_id=row[2])


def review(app: Flask, learner: ProgressLearner, module_id: str, feedback: str, reviewer_id: int = 0) -> None:
    with session_scope(app, write=True) as s:
        progress.review_practice(
            s,
            learner,
            course(app),
            module(app, module_id),
            reviewer_id=reviewer_id or learner.user_id,
            feedback=feedback,
        )


def check_structure(html: str) -> None:
    """One h1, one main, lang set, unique ids, every visible control with an id and a <label for>."""
    tags = parse(html).tags
    h1 = sum(tag == "h1" for tag, _ in tags)
    assert h1 == 1, f"{h1} h1 elements"
    assert sum(tag == "main" for tag, _ in tags) == 1
    assert [a.get("lang") for tag, a in tags if tag == "html"] in (["de"], ["en"])
    ids = [a["id"] for _, a in tags if "id" in a]
    assert len(ids) == len(set(ids)), "duplicate ids"
    label_for = {a["for"] for tag, a in tags if tag == "label" and "for" in a}
    controls = [  # ids of visible form controls
        a.get("id", "")
        for tag, a in tags
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit")
    ]
    for control in controls:
        assert control and control in label_for, f"control without label: {control!r}"
