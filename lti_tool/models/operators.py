"""Accounts of the operator area and of the certification office."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import N_, OPERATOR_INPUT, TOOL, PersonalData, Retention, Subject, group
from .base import OPERATOR, PK, Base, utcnow


class Operator(Base):
    """An account of the operator area; `role` (admin.accounts.Role) decides which pages it opens."""

    __tablename__ = "operator"
    __data__ = PersonalData(
        N_("Accounts of the operator area"),
        frozenset({Subject.OPERATOR}),
        (
            group(
                ("username", "role", "password_hash"),
                N_("user name, role (operator or certification office) and password (stored only as a hash)"),
                N_("to sign in to the operator area or the certification register"),
                OPERATOR_INPUT,
                (OPERATOR,),
            ),
            group(
                ("created_at", "last_login_at"),
                N_("when the account was made and last signed in"),
                N_("so that operators can see unused accounts"),
                TOOL,
                (OPERATOR,),
            ),
        ),
        Retention.OPERATOR_ACCOUNT,
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="operator", server_default="operator")
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
