"""`scripts/flask gradebook …`: the gradebook's per-learner summary."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .. import db
from . import summary

gradebook_cli = AppGroup("gradebook", help="The teachers' gradebook (its per-learner summary).")


@gradebook_cli.command("rebuild-summary")
@click.option(
    "--context", "context_id", type=int, default=None, help="One course context (tool id); default all."
)
@click.option(
    "--check", is_flag=True, help="Only compare the stored summary with the source rows; change nothing."
)
def rebuild_summary_command(context_id: int | None, check: bool) -> None:
    """Recompute the per-learner summary from the progress rows, practice texts and grades, and who each
    gradebook lists from the participant lists and launches (after a restore, a manual change in the database,
    or to check it). Exits 1 with --check when a row differs."""
    if check:
        with db.session_scope() as s:
            found = summary.differences(s, context_id=context_id)
        for key, stored, computed in found[:20]:
            if len(key) == 3:
                click.echo(
                    f"user {key[0]}, context {key[1]}, course {key[2]}: stored {stored} computed {computed}"
                )
            else:
                click.echo(f"listed: context {key[0]}, sub {key[1]}: stored {stored} computed {computed}")
        click.echo(f"{len(found)} summary row(s) differ from the source rows")
        raise SystemExit(1 if found else 0)
    with db.session_scope(write=True) as s:
        written = summary.rebuild(s, context_id=context_id)
    click.echo(f"{written} summary row(s) rebuilt")
