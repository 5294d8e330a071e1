"""Operator accounts: created and deleted from the command line only, passwords hashed with scrypt.

Services take a session and never commit. `authenticate` spends the same hashing work whether the user name
exists or not, so its answer time does not tell which user names exist.

Passwords (PASSWORD_RULE): at least 12 characters, not one of the 30,000 most common passwords, and not easy to
guess. Both checks come from zxcvbn (the Python port of Dropbox's estimator, pinned in pyproject.toml): its
`passwords` frequency list is the 30,000 most common passwords of Mark Burnett's 10-million-password corpus,
and its score (0-4) estimates the guesses an attacker needs from keyboard rows, repeats, sequences, dates and
dictionary words (English, names); 3 ("safely unguessable") is required.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import Operator, utcnow

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")
HASH_METHOD = "scrypt"
MIN_SCORE = 3
ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters decide
PASSWORD_RULE = (
    f"Passwords: at least {MIN_PASSWORD_LENGTH} characters, not one of the 30,000 most common passwords, and "
    "hard to guess (no keyboard rows, repeated characters, dates or a single common word; several unusual "
    "words work well)."
)


class Role(StrEnum):
    """What an account of the operator area opens. Operators: everything of the operator area except the
    certification register (they see no learner names). The certification office: the register only."""

    OPERATOR = "operator"
    OFFICE = "office"


class AccountError(ValueError):
    """A user name or password the operator must change (the message says how)."""


def normalize_username(username: str) -> str:
    """User names compare case-insensitively and without surrounding space ("NAME " is "name"; compatibility
    forms such as full-width letters are folded first): stored, looked up and throttled in this form."""
    return unicodedata.normalize("NFKC", username).strip().lower()


def check_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME.match(name):
        raise AccountError(
            "user names are 1 to 100 characters: letters, digits and . _ @ - (starting with a letter or digit)"
        )
    return name


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, username: str = "") -> None:
    """PASSWORD_RULE; AccountError says what is wrong (and zxcvbn's advice)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    if not password.strip():
        raise AccountError("the password must not be only spaces")
    if password.strip().lower() in _common_passwords():
        raise AccountError("the password is one of the 30,000 most common passwords; choose another")
    # zxcvbn and its word lists take ~13 MB: loaded by the first password check, not by every web process.
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]

    result = zxcvbn(
        password[:ZXCVBN_MAX_LENGTH], user_inputs=[username, "nama", "lti", "nrw", "lag21", "admin"]
    )
    if int(result["score"]) < MIN_SCORE:
        feedback = result.get("feedback") or {}
        advice = " ".join(
            part for part in [feedback.get("warning") or "", *(feedback.get("suggestions") or [])] if part
        )
        raise AccountError("the password is too easy to guess" + (f": {advice}" if advice else ""))


def create_operator(s: Session, username: str, password: str, role: Role = Role.OPERATOR) -> Operator:
    name = check_username(username)
    role = Role(role)
    check_password(password, name)
    if find_operator(s, name) is not None:
        raise AccountError(f"an account named {name!r} exists already")
    operator = Operator(
        username=name,
        password_hash=generate_password_hash(password, method=HASH_METHOD),
        created_at=utcnow(),
        role=role.value,
    )
    s.add(operator)
    s.flush()
    return operator


def find_operator(s: Session, username: str) -> Operator | None:
    return s.scalars(select(Operator).where(Operator.username == normalize_username(username))).one_or_none()


def list_operators(s: Session) -> list[Operator]:
    return list(s.scalars(select(Operator).order_by(Operator.username)))


def delete_operator(s: Session, username: str) -> bool:
    result = s.execute(delete(Operator).where(Operator.username == normalize_username(username)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def count_operators(s: Session) -> int:
    return int(s.scalar(select(func.count()).select_from(Operator)) or 0)


@functools.cache
def _decoy_hash() -> str:
    """A hash to check against when the user name is unknown (same method and cost as real ones)."""
    return generate_password_hash(secrets.token_urlsafe(16), method=HASH_METHOD)


def authenticate(s: Session, username: str, password: str) -> Operator | None:
    """The operator with this user name and password, or None (also for an unknown name)."""
    # A NUL cannot be in a user name, and PostgreSQL refuses one in the lookup.
    unusable = len(username) > 200 or len(password) > MAX_PASSWORD_LENGTH or "\x00" in username
    operator = None if unusable else find_operator(s, username)
    if operator is None:
        check_password_hash(_decoy_hash(), password[:MAX_PASSWORD_LENGTH])
        return None
    if not check_password_hash(operator.password_hash, password):
        return None
    operator.last_login_at = utcnow()
    return operator
