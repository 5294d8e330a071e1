"""Rows a learner leaves behind, written straight to the database (quicker than launching through a platform),
with values that are easy to look for in pages and exports."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import delete, inspect, select
from sqlalchemy.orm import Session

from lti_tool.certificate.service import new_code
from lti_tool.db import session_scope
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.lti.provision import token_hash
from lti_tool.models import (
    Certificate,
    Context,
    CourseProgress,
    Deployment,
    GradeOutbox,
    LessonVisit,
    LinkLaunch,
    Membership,
    ModuleProgress,
    Platform,
    PracticeSubmission,
    QuizAttempt,
    ResourceLink,
    RosterEntry,
    ToolKey,
    ToolSession,
    User,
    utcnow,
)

LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]


def platform(s: Session, issuer: str, client_id: str = "client-1", deployment_id: str = "1") -> Deployment:
    spec = PlatformSpec(
        issuer=issuer,
        client_id=client_id,
        auth_login_url=f"{issuer}/mod/lti/auth.php",
        auth_token_url=f"{issuer}/mod/lti/token.php",
        jwks_url=f"{issuer}/mod/lti/certs.php",
        name=f"Moodle {urlsplit(issuer).hostname}",
    )
    _platform, deployment = add_platform(s, spec, deployment_id)
    return deployment


@dataclass(frozen=True)
class Seeded:
    user_id: int
    platform_id: int
    context_id: int
    sub: str
    name: str
    email: str
    practice_text: str
    feedback: str
    answer: str
    certificate_code: str
    session_token: str
    failed_grade_id: int


def learner(
    s: Session,
    deployment: Deployment,
    sub: str,
    *,
    name: str = "Erika Mustermann",
    context_id: str = "kurs-42",
    context_title: str = "NaMa Grundlagen Düren",
) -> Seeded:
    """A learner with a bit of everything: launches, progress, a quiz, a practice task, a certificate, grades."""
    now = utcnow()
    tag = secrets.token_hex(3)
    context = s.scalars(
        select(Context).where(Context.deployment_id == deployment.id, Context.context_id == context_id)
    ).one_or_none()
    if context is None:
        context = Context(deployment_id=deployment.id, context_id=context_id, title=context_title)
        s.add(context)
        s.flush()
    link = s.scalars(select(ResourceLink).where(ResourceLink.context_id == context.id)).first()
    if link is None:
        link = ResourceLink(
            deployment_id=deployment.id,
            context_id=context.id,
            resource_link_id="activity-1",
            course_id="grundlagenkurs",
            lineitem_url="https://lms.example/lineitems/1",
        )
        s.add(link)
        s.flush()
    email = f"{sub}@example.org"
    user = User(platform_id=deployment.platform_id, sub=sub, name=name, email=email, last_launch_at=now)
    s.add(user)
    s.flush()
    token = secrets.token_urlsafe(24)
    practice_text = f"Praxistext {tag}: Unsere Kommune plant ein Klimaschutzkonzept."
    feedback = f"Rückmeldung {tag}: gut begründet."
    answer = f"antwort-{tag}"
    code = new_code()
    s.add_all(
        [
            Membership(user_id=user.id, context_id=context.id, roles=LEARNER, is_instructor=False),
            LinkLaunch(resource_link_id=link.id, user_id=user.id),
            ToolSession(
                token_hash=token_hash(token),
                user_id=user.id,
                context_id=context.id,
                resource_link_id=link.id,
                deployment_id=deployment.id,
                message_type="LtiResourceLinkRequest",
                is_instructor=False,
                course_id="grundlagenkurs",
                locale="de",
                claims={"custom": {"course": "grundlagenkurs"}},
                expires_at=now + dt.timedelta(hours=8),
            ),
            LessonVisit(
                user_id=user.id,
                context_id=context.id,
                course_id="grundlagenkurs",
                module_id="modul-a",
                lesson_id="01",
            ),
            QuizAttempt(
                public_id=secrets.token_hex(8),
                user_id=user.id,
                context_id=context.id,
                course_id="grundlagenkurs",
                module_id="modul-a",
                layout={"q1": ["a", "b"]},
                answers={"q1": [answer]},
                correct_count=1,
                question_count=1,
                score=1.0,
                passed=True,
                submitted_at=now,
            ),
            PracticeSubmission(
                user_id=user.id,
                context_id=context.id,
                course_id="grundlagenkurs",
                module_id="modul-a",
                text=practice_text,
                feedback=feedback,
            ),
            ModuleProgress(
                user_id=user.id,
                context_id=context.id,
                course_id="grundlagenkurs",
                module_id="modul-a",
                lessons_seen=1,
                attempts=1,
                best_score=1.0,
            ),
            CourseProgress(user_id=user.id, context_id=context.id, course_id="grundlagenkurs"),
            Certificate(
                code=code,
                user_id=user.id,
                context_id=context.id,
                course_id="grundlagenkurs",
                holder_name=name,
                course_title="Grundlagenkurs",
                issuer_name="LAG 21 NRW",
                modules=[{"position": 1, "title": "Modul A", "completed_at": now.isoformat()}],
                completed_at=now,
            ),
            RosterEntry(context_id=context.id, sub=sub, name=name, email=email, roles=LEARNER),
            GradeOutbox(
                platform_id=deployment.platform_id,
                user_id=user.id,
                context_id=context.id,
                resource_link_id=link.id,
                target=f"course:grundlagenkurs@link:{link.id}",
                lineitem_url=link.lineitem_url,
                payload={"userId": sub, "scoreGiven": 50, "comment": name},
                score_timestamp=now.isoformat(),
                state="sent",
                attempts=1,
                sent_at=now,
                course_id="grundlagenkurs",
            ),
        ]
    )
    failed = GradeOutbox(
        platform_id=deployment.platform_id,
        user_id=user.id,
        context_id=context.id,
        resource_link_id=link.id,
        target=f"module:grundlagenkurs/modul-a@link:{link.id}",
        lineitem_url=link.lineitem_url,
        payload={"userId": sub, "scoreGiven": 100, "comment": name},
        score_timestamp=(now + dt.timedelta(seconds=1)).isoformat(),
        state="failed",
        attempts=1,
        last_status=400,
        last_error="Incorrect score received",
        last_attempt_at=now,
        course_id="grundlagenkurs",
        module_id="modul-a",
    )
    s.add(failed)
    s.flush()
    return Seeded(
        user_id=user.id,
        platform_id=deployment.platform_id,
        context_id=context.id,
        sub=sub,
        name=name,
        email=email,
        practice_text=practice_text,
        feedback=feedback,
        answer=answer,
        certificate_code=code,
        session_token=token,
        failed_grade_id=failed.id,
    )


@contextlib.contextmanager
def keys_restored(app: Flask) -> Iterator[None]:
    """Put the tool keys back as they were: on PostgreSQL they outlive a test (tests/conftest.py keeps them), and
    a rotation would leave extra retired keys in the JWKS that later tests compare with."""
    with session_scope(app) as s:
        saved = [
            {c.key: getattr(k, c.key) for c in inspect(ToolKey).column_attrs}
            for k in s.scalars(select(ToolKey))
        ]
    try:
        yield
    finally:
        with session_scope(app, write=True) as s:
            s.execute(delete(ToolKey))
            s.add_all(ToolKey(**row) for row in saved)


def platform_row(s: Session, platform_id: int) -> Platform:
    found = s.get(Platform, platform_id)
    assert found is not None
    return found
