"""`scripts/flask grades …`: run workers, see the outbox, send failed grades again."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .. import db, metrics
from ..cache import get_store
from ..models import Platform
from . import outbox
from .processes import run_workers
from .tokens import endpoint_trouble
from .worker import prune_outbox

grades_cli = AppGroup("grades", help="Grade delivery to the LMS gradebooks (the outbox and its workers).")


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else str(dt.timedelta(seconds=int(seconds)))


@grades_cli.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (instead of running on).")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64), help="Threads.")
@click.option(
    "--metrics-bind",
    default="",
    metavar="HOST:PORT",
    help="Serve this worker's Prometheus metrics (deliveries, token requests, CPU, memory) there.",
)
def worker_command(once: bool, concurrency: int, metrics_bind: str) -> None:
    """Deliver grades until stopped (SIGTERM/SIGINT finish the score in flight and give back the rest).

    Run as many of these as you like on PostgreSQL: rows are claimed with FOR UPDATE SKIP LOCKED.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if metrics_bind:
        host, _, port = metrics_bind.rpartition(":")
        if not host or not port.isdigit():
            raise click.BadParameter("use HOST:PORT, e.g. 127.0.0.1:9301", param_hint="--metrics-bind")
        metrics.serve(metrics_bind)
    delivered = run_workers(app, concurrency=concurrency, once=once)
    click.echo(f"{delivered} score(s) delivered")


@grades_cli.command("status")
@click.option("--context", "context_id", type=int, default=None, help="Failed rows of one context (tool id).")
def status_command(context_id: int | None) -> None:
    """Rows by state, the oldest waiting grade, live workers, and failed grades with their reasons."""
    alive = 3 * float(current_app.config["GRADE_HEARTBEAT_SECONDS"])
    with db.session_scope() as s:
        report = outbox.summary(s, alive_within=alive)
        failed = outbox.failed_rows(s, context_id=context_id)
        for state in outbox.STATES:
            click.echo(f"{state:>11}: {report.counts[state]}")
        click.echo(f"oldest waiting grade: {_age(report.oldest_pending_seconds)}")
        click.echo(f"workers alive: {report.workers_alive}")
        for w in report.workers:
            click.echo(
                f"  {w.worker_id}  last seen {w.last_seen_at:%Y-%m-%d %H:%M:%S} UTC  delivered {w.delivered}"
            )
        store = get_store(current_app)
        for platform_id, name in s.execute(select(Platform.id, Platform.name).order_by(Platform.id)):
            trouble = endpoint_trouble(store, platform_id)
            if trouble is not None:  # its grades wait (lti_tool/grading/tokens.py)
                click.echo(f"platform {platform_id} ({name}): {trouble.describe()}")
        if failed:
            click.echo("failed (send again with `grades resend --failed`):")
        for row in failed:
            click.echo(
                f"  #{row.id} context {row.context_id} user {row.user_id} {row.target}: "
                f"{row.last_error or '?'}"
            )
        removed = outbox.failed_rows(s, context_id=context_id, state=outbox.RowState.REMOVED)
        if removed:
            click.echo(
                "removed: the grade item was deleted in the LMS (a teacher creates it again in the gradebook):"
            )
        for row in removed:
            click.echo(
                f"  #{row.id} context {row.context_id} user {row.user_id} {row.target}: {row.lineitem_url or '?'}"
            )


@grades_cli.command("resend")
@click.option(
    "--failed", "all_failed", is_flag=True, help="Every failed grade (narrow with the options below)."
)
@click.option("--id", "ids", type=int, multiple=True, help="One outbox row (repeatable).")
@click.option("--context", "context_id", type=int, default=None, help="Only this context (tool id).")
@click.option("--user", "user_id", type=int, default=None, help="Only this user (tool id).")
def resend_command(
    all_failed: bool, ids: tuple[int, ...], context_id: int | None, user_id: int | None
) -> None:
    """Queue failed grades again (new rows with a fresh timestamp); waiting ones become due now."""
    if not all_failed and not ids:
        raise click.UsageError("say which: --failed (optionally with --context/--user) or --id N")
    with db.session_scope(write=True) as s:
        added = outbox.resend(s, list(ids) if ids else None, context_id=context_id, user_id=user_id)
        click.echo(f"{len(added)} grade(s) queued again")


@grades_cli.command("prune")
def prune_command() -> None:
    """Delete old sent and superseded rows now (the grade workers do it with their housekeeping): what
    GRADE_HISTORY_DAYS and lti_tool/grading/outbox/retention.py say is no longer needed."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"{prune_outbox(app)} row(s) pruned")
