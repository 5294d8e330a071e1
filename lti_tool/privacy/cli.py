"""`scripts/flask learner export | delete`: a person's right of access and erasure (GDPR Art. 15 and 17)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .. import db
from ..course.catalog import get_catalog
from .erasure import ErasureLogError, allow_grades, erase, log_path, read_log, reapply
from .learner_data import (
    LearnerNotFound,
    count_learner_rows,
    export_learner,
    find_person,
    find_platform,
    forget_drafts,
)
from .subjects import find_erasure, subject_keys

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
            data = export_learner(s, find_person(s, found, sub), get_catalog())
    except LearnerNotFound as exc:
        raise click.ClickException(str(exc) + _erased_note(platform, client_id, sub)) from exc
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.touch(mode=0o600)
    output.write_text(text, encoding="utf-8")
    click.echo(f"written to {output}", err=True)


def _erased_note(platform: str, client_id: str | None, sub: str) -> str:
    """For "no person": whether the tool erased them (a DPO's next question)."""
    try:
        with db.session_scope() as s:
            found = find_platform(s, platform, client_id)
            erasure = find_erasure(s, subject_keys(current_app.config), found, sub)
    except LearnerNotFound:
        return ""
    if erasure is None:
        return ""
    return f"; their data was deleted on {erasure.erased_at:%Y-%m-%d %H:%M} UTC"


GRADES_ON_RETURN = (
    "If this person opens the tool again from the learning platform, they start afresh: no progress, no "
    "certificate. Their next quiz or lesson would then send new, lower grades that overwrite the grades the "
    "learning platform holds (a 100 becomes a 0). So by default the tool holds their grades when they come back "
    "(`--grades-on-return hold`) until you allow it with `scripts/flask learner send-grades`; with "
    "`--grades-on-return send` it sends them as for anyone else."
)


@learner_cli.command("delete")
@_selectors
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--grades-on-return",
    type=click.Choice(["hold", "send"]),
    default="hold",
    show_default=True,
    help="If the person launches again: hold their grades (the LMS keeps what it has) or send them.",
)
def delete_command(platform: str, client_id: str | None, sub: str, yes: bool, grades_on_return: str) -> None:
    """Delete everything stored about the person, in one transaction, and say what was deleted.

    What remains is a keyed hash of the platform and sub (no personal data), in the database and in the
    erasure log: a participant list update does not store the person again, their grades are held if they come
    back, and `learner reapply-erasures` erases them again after a restore from an older backup."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with db.session_scope(write=True) as s:
            found = find_platform(s, platform, client_id)
            person = find_person(s, found, sub)
            if not yes:
                counts = count_learner_rows(s, person)
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
                click.echo(
                    "Grades already in the learning platform's gradebook stay there (delete them in the "
                    "learning platform if the person asked for that too)."
                )
                click.echo(GRADES_ON_RETURN)
                click.echo(f"Chosen: {grades_on_return}.")
                click.confirm("Delete all of it?", abort=True)
            deletion = erase(s, app, person, send_grades=grades_on_return == "send")
    except ErasureLogError as exc:
        raise click.ClickException(str(exc)) from exc
    except LearnerNotFound as exc:
        raise click.ClickException(str(exc) + _erased_note(platform, client_id, sub)) from exc
    drafts = forget_drafts(deletion, get_catalog())
    click.echo(f"deleted {deletion.total + drafts} row(s) about {sub!r} on {found.issuer}:")
    for table, count in deletion.counts.items():
        click.echo(f"  {table}: {count}")
    click.echo(f"  practice texts kept after a session ended (launch store): {drafts}")
    entries = deletion.counts.get("register_entry", 0)
    if entries:
        click.echo(
            f"  removed from the certification register: {entries} entr{'y' if entries == 1 else 'ies'} "
            f"(the office no longer sees them; {deletion.audit_unlinked} audit-trail line(s) no longer name them)"
        )
    if deletion.reviews_unlinked:
        click.echo(
            f"  practice review reviewer links removed (others' tasks kept): {deletion.reviews_unlinked}"
        )
    click.echo(
        f"erasure recorded (a keyed hash, no personal data) in the database and in {log_path(app)}; "
        f"grades if they come back: {grades_on_return}"
    )
    _checkpoint()


def _checkpoint() -> None:
    wiped = db.checkpoint()
    if wiped is not None and not wiped.complete:
        click.echo(
            "The SQLite write-ahead log could not be emptied now (another process was reading): the deleted "
            "rows stay in it until its next checkpoint. Run `scripts/flask db checkpoint` when the tool is "
            "quiet.",
            err=True,
        )
    if wiped is None:
        click.echo(
            'PostgreSQL keeps the deleted rows in its files until VACUUM: see README, "Backups and restore".',
            err=True,
        )


@learner_cli.command("send-grades")
@_selectors
def send_grades_command(platform: str, client_id: str | None, sub: str) -> None:
    """Send the grades of a person who came back after their data was deleted: their current results now
    (overwriting what the learning platform holds), and every grade from now on."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with db.session_scope(write=True) as s:
            found = find_platform(s, platform, client_id)
            person = find_person(s, found, sub)
            allowed = allow_grades(s, app, get_catalog(), person)
    except LearnerNotFound as exc:
        raise click.ClickException(str(exc) + _erased_note(platform, client_id, sub)) from exc
    if not allowed.erasure_found and not allowed.queued:
        click.echo(f"{sub!r} was never deleted: their grades are sent anyway")
        return
    click.echo(f"grades of {sub!r} on {found.issuer} are sent from now on; {allowed.queued} queued now")


@learner_cli.command("reapply-erasures")
@click.option(
    "--from",
    "sources",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="An erasure log to read (repeatable). Default: the configured one (LTI_TOOL_ERASURE_LOG).",
)
def reapply_command(sources: tuple[Path, ...]) -> None:
    """After restoring a backup: erase again everyone the erasure log (and the database) names, where their
    rows are older than their erasure. Run it before the tool serves again."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    paths = list(sources) or [log_path(app)]
    records = []
    try:
        for path in paths:
            if not sources and not path.exists():
                click.echo(f"no erasure log at {path}: only the database's own records are applied", err=True)
                continue
            records += read_log(path)
        with db.session_scope(write=True) as s:
            result = reapply(s, app, records)
    except ErasureLogError as exc:
        raise click.ClickException(str(exc)) from exc
    drafts = sum(forget_drafts(deletion, get_catalog()) for deletion in result.deletions)
    if drafts:
        result.counts["practice texts kept after a session ended"] = drafts
    click.echo(
        f"{result.records} erasure(s) known, {result.added} added to the database; "
        f"{result.people} person(s) erased again"
    )
    for table, count in sorted(result.counts.items()):
        if count:
            click.echo(f"  {table}: {count}")
    for key_id, count in sorted(result.unknown_keys.items()):
        click.echo(
            f"{count} erasure(s) were made with a key secret this tool no longer has (key id {key_id}): they "
            "cannot be matched. Configure that secret again (LTI_TOOL_KEY_SECRETS, after the current one) and "
            "run this again.",
            err=True,
        )
    _checkpoint()
    if result.unknown_keys:
        raise SystemExit(1)
