"""`scripts/flask learner export | delete`: a person's right of access and erasure (GDPR Art. 15 and 17)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from .. import db
from .learner_data import (
    LearnerNotFound,
    count_learner_rows,
    delete_learner,
    export_learner,
    find_learner,
    find_platform,
)

learner_cli = AppGroup("learner", help="Everything stored about one learner: export it, delete it.")


def _selectors(command: click.decorators.FC) -> click.decorators.FC:
    command = click.option("--sub", required=True, help="The person's LTI user id (sub) on that platform.")(
        command
    )
    command = click.option(
        "--client-id", default=None, help="Needed when the issuer registered the tool more than once."
    )(command)
    return click.option(
        "--platform", required=True, help="The platform's issuer or its tool id (`platform list`)."
    )(command)


@learner_cli.command("export")
@_selectors
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file (created with mode 0600) instead of standard output.",
)
def export_command(platform: str, client_id: str | None, sub: str, output: Path | None) -> None:
    """Write everything stored about the person as JSON (also quiz answers and practice texts)."""
    try:
        with db.session_scope() as s:
            found = find_platform(s, platform, client_id)
            data = export_learner(s, found, find_learner(s, found, sub))
    except LearnerNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.touch(mode=0o600)
    output.write_text(text, encoding="utf-8")
    click.echo(f"written to {output}", err=True)


@learner_cli.command("delete")
@_selectors
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(platform: str, client_id: str | None, sub: str, yes: bool) -> None:
    """Delete everything stored about the person, in one transaction, and say what was deleted."""
    try:
        with db.session_scope(write=True) as s:
            found = find_platform(s, platform, client_id)
            user = find_learner(s, found, sub)
            if not yes:
                counts = count_learner_rows(s, found, user)
                click.echo(f"Stored about {sub!r} on {found.issuer} (client id {found.client_id}):")
                for table, count in counts.items():
                    if count:
                        click.echo(f"  {table}: {count}")
                if counts.get("register_entry"):
                    n = counts["register_entry"]
                    click.echo(
                        f"Their {n} entr{'y' if n == 1 else 'ies'} in the certification register "
                        f"{'is' if n == 1 else 'are'} removed too: the certification office no longer sees "
                        f"{'it' if n == 1 else 'them'}."
                    )
                if counts.get("certificate"):
                    click.echo(
                        f"Their {counts['certificate']} certificate(s) are deleted too: verifying a certificate's "
                        "code will then say it was not found."
                    )
                click.echo("Grades already in the learning platform's gradebook stay there.")
                click.confirm("Delete all of it?", abort=True)
            deletion = delete_learner(s, found, user)
    except LearnerNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"deleted {deletion.total} row(s) about {sub!r} on {found.issuer}:")
    for table, count in deletion.counts.items():
        click.echo(f"  {table}: {count}")
    entries = deletion.counts.get("register_entry", 0)
    if entries:
        click.echo(
            f"  removed from the certification register: {entries} entr{'y' if entries == 1 else 'ies'} "
            f"(the office no longer sees them; {deletion.audit_unlinked} audit-trail line(s) no longer name them)"
        )
    if deletion.reviews_unlinked:
        click.echo(
            f"  practice_submission reviewer links removed (others' tasks kept): {deletion.reviews_unlinked}"
        )
