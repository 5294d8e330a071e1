"""What every table shares: the declarative base with its type map, aware UTC datetimes on every database,
the primary-key type, and the short audience names the privacy declarations (`__data__`) use."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Integer, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

from ..legal.inventory import Audience, Declaration, Subject

# Who sees what (lti_tool/legal/inventory.py): these names keep the declarations in the models short.
LEARNER, PEERS, INSTRUCTOR = Audience.LEARNER, Audience.PEERS, Audience.INSTRUCTOR
OFFICE, PUBLIC, LMS, OPERATOR = (
    Audience.CERTIFICATION_OFFICE,
    Audience.PUBLIC_WITH_CODE,
    Audience.LMS,
    Audience.OPERATOR,
)
PARTICIPANTS = frozenset({Subject.PARTICIPANT})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone, so store naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


PK = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    # What personal data the table holds and why (lti_tool/legal/inventory.py; the privacy notice reads it).
    __data__: ClassVar[Declaration]

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }
