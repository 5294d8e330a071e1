"""Migration 0016 (access tokens in the launch store) on a database holding tokens written under the previous
schema: the token still in use moves to the launch store under the key the token cache reads, so no platform is
asked again after the upgrade; an expired one does not; the `access_token` table goes and the schema matches the
models; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import inspect, select

from lti_tool.grading.tokens import scope_key
from lti_tool.models import LaunchCache

from ..migrations import downgrade, previous_revision, session, upgrade_to_head

PREVIOUS = "0015"
AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
SCORE = ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]
NRPS = ["https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"]


def test_tokens_in_use_move_to_the_launch_store_and_the_table_goes(empty_database: str) -> None:
    use_until = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).replace(microsecond=0)
    with previous_revision(empty_database, PREVIOUS) as old:
        old.platform(AT)
        old.insert(
            "access_token",
            {"platform_id": 1, "scope_key": scope_key(SCORE), "token": "live", "expires_at": use_until},
            {"platform_id": 1, "scope_key": scope_key(NRPS), "token": "old", "expires_at": AT},
        )
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        assert "access_token" not in inspect(s.get_bind()).get_table_names()
        rows = {row.key: row for row in s.scalars(select(LaunchCache))}
    assert set(rows) == {f"access-token:1:{scope_key(SCORE)}"}  # the expired token stayed behind
    moved = rows[f"access-token:1:{scope_key(SCORE)}"]
    assert json.loads(moved.value) == {"token": "live", "use_until": use_until.timestamp()}
    assert moved.expires_at == use_until

    assert "access_token" in downgrade(empty_database, PREVIOUS)
    upgrade_to_head(empty_database)
