"""The one store of short-lived values, shared by every process: used-up nonces, platform key sets, access tokens
for the LTI services, operators' sign-ins and failed sign-in counts, practice texts kept after a session ended,
and the locks that let one process fetch a token or key set while the others wait. (The OIDC state is signed, not
stored: lti/login.py.)

A table (`launch_cache`) by default, Redis when LTI_TOOL_REDIS_URL is set. Values are JSON. Every operation runs
in its own short transaction: consuming a state must stick even if the launch that consumed it is refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from typing import Any, Protocol, cast

from flask import Flask, current_app
from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from .cursorsql import CursorStatement
from .db import dialect_insert, insert_for, session_scope
from .models import LaunchCache, utcnow

log = logging.getLogger(__name__)


class LaunchStore(Protocol):
    # What the store raises when its server is out of reach (Redis restarting): callers for whom the stored value
    # is an extra catch these and go on without it. The table store has none of its own (the database is down).
    unavailable: tuple[type[Exception], ...]

    def get(self, key: str, *, session: Session | None = None) -> Any | None:
        """The live value, or None. With `session`, the table store reads in that (caller's) transaction."""
        ...

    def set(self, key: str, value: Any, ttl: int) -> None: ...

    def add(self, key: str, value: Any, ttl: int, *, session: Session | None = None) -> bool:
        """Store only if absent (or expired); True when this call stored it.

        With `session`, the table store writes in that (caller's) transaction; Redis ignores it.
        """
        ...

    def pop(self, key: str) -> Any | None:
        """Atomically read and delete: of two concurrent callers exactly one gets the value."""
        ...

    def delete(self, key: str, *, session: Session | None = None) -> None:
        """With `session`, the table store deletes in that (caller's) transaction, which commits it; Redis ignores
        it (deletes at once)."""
        ...

    def purge_expired(self) -> int: ...


@functools.cache
def add_statement(dialect: str) -> Any:
    """`add`'s INSERT … ON CONFLICT, built once per dialect (every launch runs it for its nonce): take over an
    expired row, leave a live one alone. RETURNING says whether this call wrote (an INSERT's rowcount is -1 on
    psycopg with SQLAlchemy 2.1)."""
    table = cast(Table, LaunchCache.__table__)
    insert = dialect_insert(dialect)
    ins = insert(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in ("key", "value", "expires_at")}
    )
    return ins.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"value": ins.excluded.value, "expires_at": ins.excluded.expires_at},
        where=table.c.expires_at <= bindparam("now", type_=table.c.expires_at.type),
    ).returning(table.c.key)


@functools.cache
def _add_on_cursor(dialect: str) -> CursorStatement:
    """`add_statement` on the DBAPI cursor (every launch on SQLite runs it: lti_tool/cursorsql.py)."""
    return CursorStatement(add_statement(dialect))


def add_params(key: str, value: Any, ttl: int) -> dict[str, Any]:
    """The bind parameters of `add_statement`."""
    now = utcnow()
    return {"key": key, "value": json.dumps(value), "expires_at": now + dt.timedelta(seconds=ttl), "now": now}


# A live value by key, and a value's removal (bind parameters :key, :now): built once.
_GET = select(LaunchCache.value).where(
    LaunchCache.key == bindparam("key"),
    LaunchCache.expires_at > bindparam("now", type_=LaunchCache.expires_at.type),
)
_DELETE = delete(LaunchCache).where(LaunchCache.key == bindparam("key"))


class DbLaunchStore:
    unavailable: tuple[type[Exception], ...] = ()

    def __init__(self, app: Flask) -> None:
        self.app = app

    def get(self, key: str, *, session: Session | None = None) -> Any | None:
        if session is not None:
            row = session.execute(_GET, {"key": key, "now": utcnow()}).scalar_one_or_none()
        else:
            with session_scope(self.app) as s:
                row = s.execute(_GET, {"key": key, "now": utcnow()}).scalar_one_or_none()
        return None if row is None else json.loads(row)

    def set(self, key: str, value: Any, ttl: int) -> None:
        expires = utcnow() + dt.timedelta(seconds=ttl)
        with session_scope(self.app, write=True) as s:
            ins = insert_for(s)(LaunchCache).values(key=key, value=json.dumps(value), expires_at=expires)
            s.execute(
                ins.on_conflict_do_update(
                    index_elements=[LaunchCache.key],
                    set_={"value": ins.excluded.value, "expires_at": ins.excluded.expires_at},
                )
            )

    def add(self, key: str, value: Any, ttl: int, *, session: Session | None = None) -> bool:
        if session is not None:
            return self._add(session, key, value, ttl)
        with session_scope(self.app, write=True) as s:
            return self._add(s, key, value, ttl)

    @staticmethod
    def _add(s: Session, key: str, value: Any, ttl: int) -> bool:
        conn = s.connection()
        return bool(_add_on_cursor(conn.dialect.name).execute(conn, add_params(key, value, ttl)))

    def pop(self, key: str) -> Any | None:
        with session_scope(self.app, write=True) as s:
            value = s.execute(
                delete(LaunchCache)
                .where(LaunchCache.key == key, LaunchCache.expires_at > utcnow())
                .returning(LaunchCache.value)
            ).scalar_one_or_none()
        return None if value is None else json.loads(value)

    def delete(self, key: str, *, session: Session | None = None) -> None:
        if session is not None:
            session.execute(_DELETE, {"key": key})
            return
        with session_scope(self.app, write=True) as s:
            s.execute(_DELETE, {"key": key})

    def purge_expired(self) -> int:
        with session_scope(self.app, write=True) as s:
            return int(
                s.execute(delete(LaunchCache).where(LaunchCache.expires_at <= utcnow())).rowcount  # type: ignore[attr-defined]
            )


class RedisLaunchStore:
    """Redis keeps expiry itself (SET EX / NX, GETDEL), so nothing to purge."""

    def __init__(self, url: str, prefix: str = "nama-lti:") -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        self.prefix = prefix
        self.unavailable: tuple[type[Exception], ...] = (redis.exceptions.RedisError,)

    def _k(self, key: str) -> str:
        return self.prefix + key

    def get(self, key: str, *, session: Session | None = None) -> Any | None:
        raw = self.redis.get(self._k(key))
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, ttl: int) -> None:
        self.redis.set(self._k(key), json.dumps(value), ex=max(1, ttl))

    def add(self, key: str, value: Any, ttl: int, *, session: Session | None = None) -> bool:
        return bool(self.redis.set(self._k(key), json.dumps(value), ex=max(1, ttl), nx=True))

    def pop(self, key: str) -> Any | None:
        raw = self.redis.getdel(self._k(key))
        return None if raw is None else json.loads(raw)

    def delete(self, key: str, *, session: Session | None = None) -> None:
        self.redis.delete(self._k(key))

    def purge_expired(self) -> int:
        return 0


def get_store(app: Flask | None = None) -> LaunchStore:
    store: LaunchStore = (app or current_app).extensions["nama_launch_store"]
    return store


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    store: LaunchStore
    if url:
        store = RedisLaunchStore(url, prefix=app.config.get("REDIS_PREFIX", "nama-lti:"))
        log.info("launch store: Redis")
    else:
        store = DbLaunchStore(app)
    app.extensions["nama_launch_store"] = store
