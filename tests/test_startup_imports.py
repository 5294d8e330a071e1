"""A web process starts without the libraries only a few requests need (each web process is one of many, and
the memory goal is per process): fpdf2 for PDFs (~20 MB), WeasyPrint and segno for certificates (segno ~0.8 MB:
the start checks the logo setting through certificate/logo.py), zxcvbn for operator passwords (~13 MB) and
Flask-WTF with WTForms for the operator area's forms (~0.9 MB) come with their first use, the command line's
modules (0.4-1.3 MB) with a command, and Alembic (~11 MB) only where a schema is migrated: the start's schema
check reads the migration files' revisions itself (lti_tool/db.py `head_revision`). Of SQLAlchemy's dialects a
process imports only its database's (SQLite's costs a PostgreSQL process ~1.3 MB, PostgreSQL's a SQLite one
~3 MB)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from lti_tool.commands import GROUPS
from lti_tool.db import alembic_config, head_revision

from .conftest import TEST_KEY_SECRET

ROOT = Path(__file__).resolve().parent.parent
ON_DEMAND = ("alembic", "flask_wtf", "fpdf", "segno", "weasyprint", "wtforms", "zxcvbn")


def started_with(instance: Path, names: tuple[str, ...] = ON_DEMAND, database_url: str = "") -> list[str]:
    """Which of `names` the started WSGI module has imported."""
    code = f"import sys, app; print(','.join(sorted(m for m in {names!r} if m in sys.modules)))"
    env = {}
    if database_url:
        env["LTI_TOOL_DATABASE_URL"] = database_url
        env["LTI_TOOL_KEY_SECRETS"] = TEST_KEY_SECRET  # the test database's keys are sealed with it
    return [name for name in in_a_fresh_process(code, instance, env).strip().split(",") if name]


def in_a_fresh_process(code: str, instance: Path, env: dict[str, str] | None = None) -> str:
    """What `code` prints, run by a new interpreter in the checkout with a tool instance of its own (no embedded
    grade worker, nothing else from this process's environment but `env`)."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "LTI_TOOL_INSTANCE_PATH": str(instance),
            "LTI_TOOL_EMBEDDED_WORKER": "false",
            "PATH": "/usr/bin:/bin",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_app_starts_without_pdf_password_and_migration_libraries(tmp_path: Path) -> None:
    assert started_with(tmp_path) == ["alembic"]  # the first start of a SQLite tool migrates its new database
    assert started_with(tmp_path) == []  # every later start finds the schema current


def test_the_app_starts_without_its_command_lines_modules(tmp_path: Path) -> None:
    modules = tuple(name.partition(":")[0] for group in GROUPS.values() for name in group)
    assert "lti_tool.cli" in modules and "lti_tool.review.cli" in modules
    assert started_with(tmp_path, modules) == []


DIALECTS = ("sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.sqlite")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_process_imports_only_its_own_databases_dialect(
    database: str, postgres_url: str, tmp_path: Path
) -> None:
    if database == "postgresql" and not postgres_url:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    url = postgres_url if database == "postgresql" else ""
    if not url:
        started_with(tmp_path, ())  # the first start of a SQLite tool migrates its database (Alembic: both)
    assert started_with(tmp_path, DIALECTS, url) == [f"sqlalchemy.dialects.{database}"]


OPERATOR_AREA_FIRST = """
import re, sys
import app
client = app.app.test_client()
print("flask_wtf" in sys.modules)
print(client.post("/admin/login", data={"username": "anna", "password": "x" * 12}).status_code)
page = client.get("/admin/login")
token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
print(client.post("/admin/login", data={"username": "anna", "password": "x" * 12, "csrf_token": token}).status_code)
print("flask_wtf" in sys.modules)
"""


def test_the_operator_areas_csrf_check_comes_with_its_first_request(tmp_path: Path) -> None:
    printed = in_a_fresh_process(OPERATOR_AREA_FIRST, tmp_path)
    # Not loaded at start; a POST without the token refused (403), with it let through to the password check
    # (401: no such operator).
    assert printed.split() == ["False", "403", "401", "True"]


def test_the_head_revision_is_alembics() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def frozen_after_start(instance: Path, *, freeze: str | None) -> int:
    """How many objects the started WSGI module left out of the garbage collector's view (gc.freeze)."""
    env = {"LTI_TOOL_GC_FREEZE": freeze} if freeze is not None else {}
    return int(in_a_fresh_process("import gc, app; print(gc.get_freeze_count())", instance, env).strip())


def test_the_started_app_is_frozen_out_of_the_garbage_collectors_walks(tmp_path: Path) -> None:
    assert frozen_after_start(tmp_path, freeze=None) > 50_000  # the loaded app: modules, tables, the course
    assert frozen_after_start(tmp_path, freeze="0") == 0
