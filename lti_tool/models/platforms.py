"""LTI registration: the platforms (LMS registrations) and deployments that may launch the tool, the
one-time links that start a dynamic registration, and the tool's own signing keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..legal.inventory import N_, NoPersonalData
from .base import PK, Base, utcnow


class Platform(Base):
    """An LMS registration: one issuer + client_id pair (an issuer may register the tool many times)."""

    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)
    __data__ = NoPersonalData(N_("An LMS registration: addresses and identifiers of a learning platform."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    jwks_url: Mapped[str] = mapped_column(String(1024))
    # Audience for client assertions when the token endpoint wants something else than its URL.
    auth_audience: Mapped[str | None] = mapped_column(String(1024))
    # How it arrived: "cli", "dynamic", "demo".
    registered_via: Mapped[str] = mapped_column(String(20), default="cli")
    # Platform's openid-configuration as received during dynamic registration (for the operator).
    platform_config: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(back_populates="platform", lazy="raise")


class Deployment(Base):
    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)
    __data__ = NoPersonalData(N_("A deployment of the tool in a learning platform."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[dt.datetime | None]

    platform: Mapped[Platform] = relationship(back_populates="deployments", lazy="raise")


class RegistrationLink(Base):
    """One-time URL an operator hands to an LMS admin for LTI Dynamic Registration."""

    __tablename__ = "registration_link"
    __data__ = NoPersonalData(N_("A one-time registration link (only its hash) with the operator's note."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="SET NULL"))
    # Registrations started with the link (a failed one gives the link back until REGISTRATION_LINK_MAX_ATTEMPTS).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ToolKey(Base):
    """The tool's RSA signing keys. Lifecycle: next (published) -> current (signs) -> retired."""

    __tablename__ = "tool_key"
    __data__ = NoPersonalData(N_("The tool's signing keys."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    # The PEM private key, encrypted (lti_tool/lti/keystore.py); "" once destroyed after retirement.
    private_key_sealed: Mapped[str] = mapped_column(Text, default="", server_default="")
    public_jwk: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[dt.datetime | None]
    retired_at: Mapped[dt.datetime | None]
