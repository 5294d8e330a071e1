"""Test fixtures: the app from the factory with a test config, a live tool server, a platform peer.

Databases: SQLite always (a migrated template file copied per test). With TEST_DATABASE_URL (PostgreSQL) the
schema is migrated once per session and every table except tool keys is emptied before each test (DELETE, and
the id sequences restarted). With
TEST_REDIS_URL the launch store is Redis, under a fresh key prefix per test.
"""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.routing import Rule

from lti_tool import create_app
from lti_tool.course import catalog
from lti_tool.course.loader import load_catalog as read_catalog
from lti_tool.course.model import Catalog
from lti_tool.db import session_scope, upgrade
from lti_tool.lti import keys
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import Base

from .peer import Launcher, PeerPlatform, ServerThread

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
KEEP_TABLES = {"tool_key", "alembic_version"}
CONTENT_DIR = str(Path(__file__).parent / "fixtures" / "content")
# One key secret for every test: the tool keys in the template database (and PostgreSQL's kept tool_key table)
# are encrypted with it, whatever SECRET_KEY a test's app has.
TEST_KEY_SECRET = "test-key-secret"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per test session (Playwright's sync API allows one at a time).

    Skips when /usr/bin/chromium is missing, fails instead with NAMA_REQUIRE_BROWSER=1 (CI).
    """
    if not Path(CHROMIUM).exists():
        if os.environ.get("NAMA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium) and NAMA_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session", autouse=True)
def fixture_courses_read_once() -> Iterator[None]:
    """Every app of a test reads its CONTENT_DIR at start (lti_tool/course/catalog.py); the fixture courses are read
    once per session instead: no test writes them (a test that changes a course copies it first), the catalog is
    frozen, and reading it was a fifth of each app's start. Any other content folder is read as the app does."""
    fixture_courses: list[Catalog] = []

    def load_catalog(content_dir: Path) -> Catalog:
        if Path(content_dir) != Path(CONTENT_DIR):
            return read_catalog(content_dir)
        if not fixture_courses:
            fixture_courses.append(read_catalog(content_dir))
        return fixture_courses[0]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catalog, "load_catalog", load_catalog)
        yield


@pytest.fixture(scope="session", autouse=True)
def imported_objects_frozen() -> None:
    """What the collected test modules imported (~170,000 objects that live as long as the session) is moved out
    of the garbage collector's walks, as app.py does for the served app: every full collection walked all of it
    (tests/lti: full collections 6.6 -> 5.5 s of a 55 s run). Garbage made later is collected as before."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def url_builders_compiled_once() -> Iterator[None]:
    """Every app of a test adds its ~80 URL rules, and werkzeug writes and compiles two Python functions per rule
    to build its URLs (Rule._compile_builder): over half of each app's start. A rule's builder is the same function
    whenever the rule's text, its parsed parts and its defaults are the same (it reads the rule's converters
    through the rule it is bound to when called), so each one is compiled once per session and bound to every rule
    of that shape, as werkzeug binds it to the one rule otherwise."""
    compile_builder = Rule._compile_builder
    builders: dict[tuple[Any, ...], Any] = {}

    def compiled_once(rule: Rule, append_unknown: bool = True) -> Any:
        defaults = rule.defaults or {}
        shape = (
            append_unknown,
            rule.rule,
            tuple(rule._trace),
            tuple((name, type(rule._converters.get(name)), repr(value)) for name, value in defaults.items()),
        )
        if shape not in builders:
            builders[shape] = compile_builder(rule, append_unknown)
        return builders[shape]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", compiled_once)
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with tool keys, copied for every test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url, key_secrets=[TEST_KEY_SECRET])
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "x",
            "KEY_SECRETS": [TEST_KEY_SECRET],
            "INSTANCE_PATH": str(path.parent / "inst"),
            "CONTENT_DIR": CONTENT_DIR,
        }
    )
    with session_scope(app, write=True) as s:
        keys.ensure_keys(s, app)
    app.extensions["nama_db"].dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not TEST_DATABASE_URL:
        yield ""
        return
    upgrade(TEST_DATABASE_URL, key_secrets=[TEST_KEY_SECRET])
    yield TEST_DATABASE_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for upgrade tests (tests/migrations.py): a SQLite file, and a fresh PostgreSQL schema
    with TEST_DATABASE_URL (first on the search path it is an empty database to Alembic, and cheaper than one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    schema = f"migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(TEST_DATABASE_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class PostgresEmptier:
    """Empties every table except KEEP_TABLES and restarts their id sequences, as TRUNCATE ... RESTART IDENTITY
    would, in one round trip: DELETE children first, then setval on the sequences used since. On these tiny tables
    DELETE is far cheaper than TRUNCATE, which replaces the files of every table (measured: ~1 s per test under
    load, ~0.1 s this way); the id sequences start again at 1, as on a fresh copy of the SQLite template."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in KEEP_TABLES]
        with self.engine.connect() as conn:
            sequences = conn.scalars(
                text(
                    "SELECT s.relname FROM pg_class s"
                    " JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass"
                    " AND d.deptype IN ('a', 'i')"
                    " JOIN pg_class t ON t.oid = d.refobjid"
                    " WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace"
                    " AND t.relname = ANY(:tables)"
                ),
                {"tables": tables},
            ).all()
        names = ", ".join(f"'{name}'" for name in sequences)
        self.sql = "".join(f'DELETE FROM "{name}";' for name in tables) + (
            "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), 1, false) FROM pg_sequences"
            f" WHERE schemaname = current_schema() AND sequencename IN ({names}) AND last_value IS NOT NULL"
        )

    def empty(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self.sql)

    def dispose(self) -> None:
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres_emptier(postgres_url: str) -> Iterator[PostgresEmptier | None]:
    if not postgres_url:
        yield None
        return
    emptier = PostgresEmptier(postgres_url)
    yield emptier
    emptier.dispose()


@pytest.fixture
def database_url(
    tmp_path: Path, sqlite_template: Path, postgres_url: str, postgres_emptier: PostgresEmptier | None
) -> str:
    if postgres_emptier:
        postgres_emptier.empty()
        return postgres_url
    path = tmp_path / "tool.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def test_config(tmp_path: Path, database_url: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
        "KEY_SECRETS": [TEST_KEY_SECRET],
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "HTTP_READ_TIMEOUT": 5.0,
        "EMBEDDED_WORKER": False,
        "CONTENT_DIR": CONTENT_DIR,
    }
    if TEST_REDIS_URL:
        config["REDIS_URL"] = TEST_REDIS_URL
        config["REDIS_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    return config


@pytest.fixture
def app(test_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(test_config)
    yield application
    application.extensions["nama_db"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def tool_server(app: Flask) -> Iterator[ServerThread]:
    server = ServerThread(app)
    yield server
    server.stop()


@pytest.fixture
def peer() -> Iterator[PeerPlatform]:
    platform = PeerPlatform().start()
    yield platform
    platform.stop()


CLIENT_ID = "tool-client-1"
DEPLOYMENT_ID = "deployment-1"


@pytest.fixture
def registered(app: Flask, peer: PeerPlatform) -> PeerPlatform:
    """The peer registered with the tool (as `scripts/flask platform add` does)."""
    spec = PlatformSpec(
        issuer=peer.issuer,
        client_id=CLIENT_ID,
        auth_login_url=peer.auth_url,
        auth_token_url=peer.token_url,
        jwks_url=peer.jwks_url,
        name="Peer platform",
    )
    with session_scope(app, write=True) as s:
        add_platform(s, spec, DEPLOYMENT_ID)
    return peer


@pytest.fixture
def launcher(tool_server: ServerThread, registered: PeerPlatform) -> Launcher:
    return Launcher(tool_server.url, registered, CLIENT_ID, DEPLOYMENT_ID)


OTHER_CLIENT_ID = "tool-client-2"


@pytest.fixture
def other_launcher(app: Flask, tool_server: ServerThread) -> Iterator[Launcher]:
    """A second platform (its own issuer, keys and deployment) registered with the same tool."""
    other = PeerPlatform().start()
    spec = PlatformSpec(
        issuer=other.issuer,
        client_id=OTHER_CLIENT_ID,
        auth_login_url=other.auth_url,
        auth_token_url=other.token_url,
        jwks_url=other.jwks_url,
        name="Other platform",
    )
    with session_scope(app, write=True) as s:
        add_platform(s, spec, DEPLOYMENT_ID)
    yield Launcher(tool_server.url, other, OTHER_CLIENT_ID, DEPLOYMENT_ID)
    other.stop()
