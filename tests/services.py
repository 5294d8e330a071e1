"""Shortcuts through the tool's own services, for tests that need a state without driving every step over HTTP:
a launch as the LTI launch view provisions it, a roster refresh as NRPS stores it, and the grade worker's steps
with the platform's answer chosen. Each step is its own transaction, as at the edges that call these services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask
from sqlalchemy import select

from lti_tool.course.catalog import get_catalog
from lti_tool.db import WriteTransaction, session_scope
from lti_tool.gradebook.roster import Member, store_roster
from lti_tool.grading.outbox import RowState, claim, reconcile, record_delivered, record_failed, release
from lti_tool.lti.provision import AGS, LaunchTarget, ProvisionedLaunch, provision
from lti_tool.lti.toolconf import ActiveDeployment, RegisteredPlatform
from lti_tool.models import Deployment, Platform, RosterEntry, utcnow

from .peer import LTI

LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def launch(
    app: Flask,
    deployment_pk: int,
    sub: str,
    *,
    context: Mapping[str, str | None],
    link: Mapping[str, str | None],
    roles: tuple[str, ...] = (LEARNER_ROLE,),
    lineitem: str | None = None,
    lineitems: str | None = None,
    scopes: Sequence[str] = (AGS_SCORE,),
    course_id: str = "grundlagenkurs",
    module_id: str | None = None,
    **claims: Any,
) -> ProvisionedLaunch:
    """A resource-link launch as the launch view records it once the id token is valid: the person, context,
    activity and session provisioned, and for a returning learner what the activity's grade item should hold
    queued (`reconcile`). `lineitem`: the activity's grade column, `lineitems`: the context's line item
    service (either sends the AGS claim with `scopes`). `module_id`: the activity opens that module."""
    claims = {
        "sub": sub,
        LTI + "message_type": "LtiResourceLinkRequest",
        LTI + "roles": list(roles),
        LTI + "context": {"label": context.get("id", ""), **context},
        LTI + "resource_link": dict(link),
        **claims,
    }
    if lineitem is not None or lineitems is not None:
        claims[AGS] = {"scope": list(scopes), "lineitems": lineitems or str(lineitem).rsplit("/", 1)[0]}
        if lineitem is not None:
            claims[AGS]["lineitem"] = lineitem
    course = get_catalog(app).get(course_id)
    assert course is not None, course_id
    with session_scope(app, write=True) as s:
        deployment = s.get_one(Deployment, deployment_pk)
        launched = provision(
            WriteTransaction.of(s),
            platform=RegisteredPlatform.of(s.get_one(Platform, deployment.platform_id)),
            deployment=ActiveDeployment(deployment.id, deployment.platform_id, deployment.deployment_id),
            claims=claims,
            target=LaunchTarget(course_id, module_id),
            languages=list(app.config["LANGUAGES"]),
            session_lifetime=int(app.config["SESSION_LIFETIME_SECONDS"]),
            config=app.config,
        )
        if launched.resource_link_id is not None and not launched.is_instructor and not launched.new_learner:
            reconcile(
                s,
                user_id=launched.user_id,
                context_id=launched.context_id,
                course=course,
                link_ids=[launched.resource_link_id],
            )
    return launched


def add_to_roster(app: Flask, context_pk: int, *members: Member) -> None:
    """A roster refresh that finds `members` besides everyone listed before."""
    with session_scope(app, write=True) as s:
        listed = [
            Member(r.sub, r.name, r.email, list(r.roles), r.status, r.is_learner)
            for r in s.scalars(select(RosterEntry).where(RosterEntry.context_id == context_pk))
        ]
        store_roster(s, context_pk, [*listed, *members], utcnow())


def take_grades(
    app: Flask, user_id: int, state: str, *, status: int = 400, error: str = "Incorrect score received"
) -> list[int]:
    """A worker's round over the person's due grade rows, the platform answering each as `state` says ("sent";
    "failed": `status` and `error`); everyone else's rows are given back unsent. Returns the rows taken."""
    with session_scope(app, write=True) as s:
        claimed = claim(s, "tests", limit=1000, lease_seconds=60)
        taken = [row for row in claimed if row.user_id == user_id]
        for row in taken:
            if state == RowState.FAILED:
                record_failed(s, row.id, "tests", status=status, reason=error)
            else:
                assert state == RowState.SENT, state
                url = row.lineitem_url or "https://lms.example/lineitems/1"
                record_delivered(s, row.id, "tests", applied=False, status=200, lineitem_url=url)
        release(s, "tests", [row.id for row in claimed if row.user_id != user_id])
    return [row.id for row in taken]
