"""The demo LMS's own tables (its own metadata, never the tool's) and the one way to open a transaction.

Every unit of work runs in `Store.tx()`: one session, one transaction, under one lock. The demo LMS is
a test peer, not a production platform; the lock makes an in-memory SQLite database shared across the
threads of the threaded dev server safe, and it is never held while the LMS waits on the network.
Times are UTC epoch seconds (floats); ISO 8601 strings are produced at the edge.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool


def now() -> float:
    return time.time()


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Key/value pairs created on first start: the HMAC secret and the platform guid."""

    __tablename__ = "demo_settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PlatformKey(Base):
    __tablename__ = "demo_platform_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Tool(Base):
    """A tool registration. Its id is Moodle's tool type id, which Moodle also uses as deployment id."""

    __tablename__ = "demo_tools"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), unique=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | pending
    origin: Mapped[str] = mapped_column(String(16), default="config")  # config | dynamic
    login_url: Mapped[str] = mapped_column(Text)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    target_link_uri: Mapped[str] = mapped_column(Text)
    deep_link_url: Mapped[str] = mapped_column(Text, default="")  # "" = deep linking off
    jwks_url: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    domain: Mapped[str] = mapped_column(String(255), default="")
    custom: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    send_name: Mapped[bool] = mapped_column(Boolean, default=True)
    send_email: Mapped[bool] = mapped_column(Boolean, default=True)
    registration: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class User(Base):
    __tablename__ = "demo_users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # Moodle user id, also login_hint and sub
    username: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(255))
    given_name: Mapped[str] = mapped_column(String(128))
    family_name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str] = mapped_column(String(255))
    course_role: Mapped[str | None] = mapped_column(String(32), nullable=True)  # Learner | Instructor | None
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    launchable: Mapped[bool] = mapped_column(Boolean, default=True)  # False: enrolled, never opens the tool


class Course(Base):
    __tablename__ = "demo_courses"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))


class Activity(Base):
    """An LTI activity in the course = a resource link. The id is the resource link id (as a string)."""

    __tablename__ = "demo_activities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("demo_courses.id"))
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tools.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")  # "" = the tool's target_link_uri
    custom: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    presentation: Mapped[str] = mapped_column(String(16), default="iframe")  # iframe | window
    source: Mapped[str] = mapped_column(String(16), default="seed")  # seed | deep_linking | teacher
    created_at: Mapped[float] = mapped_column(Float, default=now)


class LineItem(Base):
    """A gradebook column. `coupled` = the activity's own grade item (Moodle refuses to DELETE it)."""

    __tablename__ = "demo_line_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("demo_courses.id"))
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tools.id", ondelete="CASCADE"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("demo_activities.id"), nullable=True)
    label: Mapped[str] = mapped_column(String(255))
    score_maximum: Mapped[float] = mapped_column(Float)
    resource_id: Mapped[str] = mapped_column(String(255), default="")
    tag: Mapped[str] = mapped_column(String(255), default="")
    start_date_time: Mapped[str | None] = mapped_column(String(64), nullable=True)
    end_date_time: Mapped[str | None] = mapped_column(String(64), nullable=True)
    coupled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class Grade(Base):
    """The latest accepted score per (line item, user): what the gradebook shows."""

    __tablename__ = "demo_grades"
    __table_args__ = (UniqueConstraint("line_item_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("demo_line_items.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("demo_users.id"))
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_maximum: Mapped[float] = mapped_column(Float)
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[str] = mapped_column(String(64))  # of the latest accepted score, as sent
    # What a newer score's timestamp is compared with (Moodle's grade_grades.timemodified); None = nothing.
    timemodified: Mapped[float | None] = mapped_column(Float, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float, default=now)


class ScoreEvent(Base):
    """Every accepted score POST, in arrival order (the history)."""

    __tablename__ = "demo_score_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("demo_line_items.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)  # as applied
    score_given_sent: Mapped[float | None] = mapped_column(Float, nullable=True)  # as received
    score_maximum: Mapped[float] = mapped_column(Float)
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[float] = mapped_column(Float, default=now)


class UsedNonce(Base):
    """Single-use values: client assertion jti, deep linking response nonces, message hints."""

    __tablename__ = "demo_used_nonces"
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float)


class AccessToken(Base):
    __tablename__ = "demo_access_tokens"
    token: Mapped[str] = mapped_column(String(128), primary_key=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tools.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    expires_at: Mapped[float] = mapped_column(Float)


class RegistrationToken(Base):
    """Issued dynamic registration tokens (the JWT itself carries sub = the future client_id)."""

    __tablename__ = "demo_registration_tokens"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[float] = mapped_column(Float, default=now)
    expires_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class DeepLinkingRequest(Base):
    """The opaque `data` of a deep linking request, so the response must echo one we issued."""

    __tablename__ = "demo_deep_linking_requests"
    data: Mapped[str] = mapped_column(String(128), primary_key=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tools.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float, default=now)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Counter(Base):
    __tablename__ = "demo_counters"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One shared connection for every thread; the Store lock serialises its use.
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


class Store:
    """Engine + sessions of one demo LMS instance."""

    def __init__(self, url: str) -> None:
        self.engine = _make_engine(url)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._lock, self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


# Small helpers used across modules (they take a session and never commit).


def get_setting(session: Session, name: str) -> str | None:
    row = session.get(Setting, name)
    return row.value if row else None


def set_setting(session: Session, name: str, value: str) -> None:
    row = session.get(Setting, name)
    if row is None:
        session.add(Setting(name=name, value=value))
    else:
        row.value = value


def bump(session: Session, name: str, by: int = 1) -> None:
    row = session.get(Counter, name)
    if row is None:
        session.add(Counter(name=name, value=by))
    else:
        row.value += by


def use_once(session: Session, key: str, expires_at: float) -> bool:
    """Record a single-use value; False if it was seen before (and has not expired yet)."""
    t = now()
    row = session.get(UsedNonce, key)
    if row is not None and row.expires_at > t:
        return False
    if row is None:
        session.add(UsedNonce(key=key, expires_at=expires_at))
    else:
        row.expires_at = expires_at
    return True


def purge_expired(session: Session) -> None:
    t = now()
    for row in session.scalars(select(UsedNonce).where(UsedNonce.expires_at < t - 3600)):
        session.delete(row)
    for tok in session.scalars(select(AccessToken).where(AccessToken.expires_at < t - 3600)):
        session.delete(tok)
