"""Registering platforms and approving deployments (shared by the CLI, the quickstart and the operator area)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import insert_for
from ..models import Deployment, Platform, utcnow


@dataclass(frozen=True)
class PlatformSpec:
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    name: str = ""
    auth_audience: str | None = None


HTTP_URL = re.compile(r"^https?://[^\s/]+")
URL_FIELDS = ("auth_login_url", "auth_token_url", "jwks_url")
REQUIRED = ("issuer", "client_id", "deployment_id", *URL_FIELDS)
MAX_LENGTH = {
    "issuer": 255,
    "client_id": 255,
    "deployment_id": 255,
    "name": 255,
    "auth_login_url": 1024,
    "auth_token_url": 1024,
    "jwks_url": 1024,
    "auth_audience": 1024,
}
MISSING, TOO_LONG, NOT_A_URL = "missing", "too_long", "not_a_url"


def spec_problems(spec: PlatformSpec, deployment_id: str) -> list[tuple[str, str]]:
    """What keeps a manual registration from being stored: (field, MISSING | TOO_LONG | NOT_A_URL) pairs.

    One rule set for every way in (`scripts/flask platform add`, the operator area); each edge words the problems.
    """
    values = {
        "issuer": spec.issuer,
        "client_id": spec.client_id,
        "deployment_id": deployment_id,
        "name": spec.name,
        "auth_login_url": spec.auth_login_url,
        "auth_token_url": spec.auth_token_url,
        "jwks_url": spec.jwks_url,
        "auth_audience": spec.auth_audience or "",
    }
    problems: list[tuple[str, str]] = []
    for field, value in values.items():
        if field in REQUIRED and not value.strip():
            problems.append((field, MISSING))
        elif len(value) > MAX_LENGTH[field]:
            problems.append((field, TOO_LONG))
        elif field in URL_FIELDS and not HTTP_URL.match(value):
            problems.append((field, NOT_A_URL))
    return problems


def add_platform(
    s: Session, spec: PlatformSpec, deployment_id: str, via: str = "cli"
) -> tuple[Platform, Deployment]:
    """Register (or update) a platform with one active deployment. Idempotent."""
    values = {
        "name": spec.name or spec.issuer,
        "auth_login_url": spec.auth_login_url,
        "auth_token_url": spec.auth_token_url,
        "jwks_url": spec.jwks_url,
        "auth_audience": spec.auth_audience or None,
    }
    ins = insert_for(s)(Platform).values(
        issuer=spec.issuer, client_id=spec.client_id, registered_via=via, **values
    )
    s.execute(ins.on_conflict_do_update(index_elements=["issuer", "client_id"], set_=values))
    platform = s.scalars(
        select(Platform).where(Platform.issuer == spec.issuer, Platform.client_id == spec.client_id)
    ).one()
    deployment = set_deployment_active(s, platform, deployment_id, True)
    return platform, deployment


def set_deployment_active(s: Session, platform: Platform, deployment_id: str, active: bool) -> Deployment:
    now = utcnow()
    ins = insert_for(s)(Deployment).values(
        platform_id=platform.id,
        deployment_id=deployment_id,
        active=active,
        approved_at=now if active else None,
    )
    changes = {"active": active, "approved_at": now} if active else {"active": False}
    s.execute(ins.on_conflict_do_update(index_elements=["platform_id", "deployment_id"], set_=changes))
    return s.scalars(
        select(Deployment).where(
            Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id
        )
    ).one()


def find_platform(s: Session, issuer: str, client_id: str) -> Platform | None:
    return s.scalars(
        select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    ).one_or_none()
