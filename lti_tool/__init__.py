"""nama-lti: LTI 1.3 tool for the Grundlagenkurs Kommunales Nachhaltigkeitsmanagement.

`create_app(test_config=None)`: defaults (config/defaults.py) -> environment (LTI_TOOL_*) -> test_config.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logconfig
from .links import ToolFlask
from .responses import ToolResponse
from .warmup import WarmUp

ROOT = Path(__file__).resolve().parent.parent


def _secret_key(instance: Path) -> str:
    """LTI_TOOL_SECRET_KEY, or one generated once and kept in the instance folder (mode 0600)."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_pyfile(str(ROOT / "config" / "defaults.py"))
    app.config.from_prefixed_env("LTI_TOOL")
    if test_config:
        app.config.update(test_config)
    instance = Path(app.instance_path)
    if not instance.exists():
        # Only the tool's user may enter it: it holds the SQLite database and the generated secret.
        instance.mkdir(mode=0o700, parents=True)
        instance.chmod(0o700)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'nama-lti.db'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
    if not app.config.get("CONTENT_DIR"):
        app.config["CONTENT_DIR"] = str(ROOT / "content")
    leeway = int(app.config["LAUNCH_LEEWAY_SECONDS"])
    if not 0 <= leeway <= 60:
        raise ValueError("LTI_TOOL_LAUNCH_LEEWAY_SECONDS must be between 0 and 60")
    app.config["BASE_URL"] = str(app.config.get("BASE_URL") or "").rstrip("/")
    # Cookie names never collide with Moodle's (cookies ignore the port on one host).
    app.config["SESSION_COOKIE_NAME"] = "nama_lti_admin"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # The Flask session is the operator area's only (LTI pages carry theirs in the URL; its cookie path is
    # /admin, see lti_tool/admin/signin.py).
    app.config["SESSION_COOKIE_SECURE"] = app.config["BASE_URL"].startswith("https://")
    app.config["PERMANENT_SESSION_LIFETIME"] = int(app.config["ADMIN_SESSION_SECONDS"])


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = ToolFlask(
        __name__,
        instance_path=(test_config or {}).get("INSTANCE_PATH") or os.environ.get("LTI_TOOL_INSTANCE_PATH"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "lti_tool" / "static"),
    )
    app.response_class = (
        ToolResponse  # lti_tool/responses.py: headers handed to the server without a second check
    )
    _configure(app, test_config)
    from .logredact import install as redact_logs

    redact_logs()  # before anything logs: every line of the process passes lti_tool/logredact.py
    logconfig.configure(app.config)

    proxies = int(app.config["PROXY_FIX"])
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies, x_prefix=proxies
        )
    logconfig.init_app(app)  # a request id for every request's log lines (X-Request-ID)
    warm = int(app.config.get("WARMUP_SERIAL_REQUESTS") or 0)
    if warm > 0:  # a cold process's first requests one at a time (lti_tool/warmup.py)
        app.wsgi_app = WarmUp(app.wsgi_app, requests=warm)  # type: ignore[method-assign]

    from . import (
        auth,
        cache,
        commands,
        db,
        errors,
        fragments,
        guides,
        health,
        i18n,
        metrics,
        pages,
        querycount,
        security,
        typography,
    )
    from .admin import views as admin_views
    from .certificate import views as certificate_views
    from .course import catalog
    from .course import views as course_views
    from .gradebook import views as gradebook_views
    from .grading import processes as grading_processes
    from .legal import views as legal_views
    from .lti import keys
    from .lti import views as lti_views

    db.init_app(app)
    metrics.init_app(app)
    querycount.init_app(app)
    cache.init_app(app)
    catalog.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    fragments.init_app(app)
    typography.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    lti_views.init_app(app)
    course_views.init_app(app)
    gradebook_views.init_app(app)
    certificate_views.init_app(app)
    admin_views.init_app(app)
    pages.init_app(app)
    guides.init_app(app)
    legal_views.init_app(app)
    health.init_app(app)
    commands.init_app(app)  # the command line: each group imported with its first use
    keys.init_app(app)
    grading_processes.init_app(app)

    if app.config.get("DEMO_LMS") and app.config["ENV"] == "production":
        raise ValueError(
            "The demo LMS is for trying the tool out; it cannot run with LTI_TOOL_ENV=production"
        )
    return app
