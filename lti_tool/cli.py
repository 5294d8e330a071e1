"""`scripts/flask …` commands for the operator: database, platforms, registration links, keys (registered by
lti_tool/commands.py, with the other areas' groups)."""

from __future__ import annotations

import re

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import db
from .housekeeping import purge
from .lti import keys
from .lti.keystore import configured_secrets
from .lti.platforms import (
    MAX_LENGTH,
    MISSING,
    NOT_A_URL,
    TOO_LONG,
    PlatformSpec,
    add_platform,
    find_platform,
    set_deployment_active,
    spec_problems,
)
from .lti.registration import issue_link
from .lti.toolconf import registrations_changed
from .models import Platform

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
platform_cli = AppGroup(
    "platform", help="LMS platforms that may launch the tool, their deployments, registration links."
)
keys_cli = AppGroup("keys", help="The tool's signing keys (published at /.well-known/jwks.json).")
store_cli = AppGroup("launch-store", help="The short-lived launch store (OIDC state, nonces, platform keys).")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Create or upgrade the schema, then make sure the tool has its keys."""
    db.upgrade(current_app.config["DATABASE_URL"], revision, configured_secrets(current_app.config))
    with db.session_scope(write=True) as s:
        keys.ensure_keys(s, current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"database at revision {revision}")


@db_cli.command("checkpoint")
def db_checkpoint() -> None:
    """SQLite: move the write-ahead log into the database file and empty it (after a deletion, before a copy)."""
    done = db.checkpoint()
    if done is None:
        click.echo('not SQLite: nothing to do (PostgreSQL: README "Backups and restore" on VACUUM)')
        return
    if not done.complete:
        raise click.ClickException(
            "another process kept reading during the whole busy timeout: the log is not empty yet; try again "
            "when the tool is quiet (or stopped)"
        )
    click.echo(f"write-ahead log moved into the database file ({done.frames} frame(s)) and emptied")


@platform_cli.command("add")
@click.option("--issuer", required=True, help="Platform ID (iss), e.g. https://moodle.example.org")
@click.option("--client-id", required=True, help="Client ID the platform assigned to the tool.")
@click.option("--auth-login-url", required=True, help="OIDC authentication URL (Moodle: …/mod/lti/auth.php).")
@click.option(
    "--auth-token-url", required=True, help="OAuth2 access token URL (Moodle: …/mod/lti/token.php)."
)
@click.option("--jwks-url", required=True, help="Platform public keyset URL (Moodle: …/mod/lti/certs.php).")
@click.option("--deployment-id", required=True, help="Deployment ID shown by the platform.")
@click.option("--name", default="", help="A name for people (default: the issuer).")
@click.option("--auth-audience", default=None, help="Audience for client assertions if not the token URL.")
def platform_add(
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    jwks_url: str,
    deployment_id: str,
    name: str,
    auth_audience: str | None,
) -> None:
    """Register a platform with an active deployment (running it again updates it)."""
    spec = PlatformSpec(issuer, client_id, auth_login_url, auth_token_url, jwks_url, name, auth_audience)
    for field, problem in spec_problems(spec, deployment_id):
        label = "--" + field.replace("_", "-")
        wording = {
            MISSING: "must not be empty",
            TOO_LONG: f"is longer than {MAX_LENGTH[field]} characters",
            NOT_A_URL: "must be an http(s) URL",
        }[problem]
        raise click.BadParameter(f"{label} {wording}", param_hint=label)
    with db.session_scope(write=True) as s:
        platform, deployment = add_platform(s, spec, deployment_id)
        click.echo(
            f"platform {platform.id}: {platform.issuer} client_id={platform.client_id}; deployment {deployment.deployment_id} active"
        )


@platform_cli.command("list")
def platform_list() -> None:
    """Show registered platforms and their deployments."""
    with db.session_scope() as s:
        platforms = s.scalars(
            select(Platform).options(selectinload(Platform.deployments)).order_by(Platform.id)
        ).all()
        if not platforms:
            click.echo("no platforms registered")
        for p in platforms:
            click.echo(
                f"[{p.id}] {p.name}  issuer={p.issuer}  client_id={p.client_id}  via={p.registered_via}"
            )
            click.echo(f"     login={p.auth_login_url}  token={p.auth_token_url}  jwks={p.jwks_url}")
            for d in p.deployments:
                state = "active" if d.active else "INACTIVE (approve with `platform approve`)"
                click.echo(f"     deployment {d.deployment_id}: {state}")


def _set_active(issuer: str, client_id: str, deployment_id: str, active: bool) -> None:
    with db.session_scope(write=True) as s:
        platform = find_platform(s, issuer, client_id)
        if platform is None:
            raise click.ClickException(f"no platform with issuer {issuer!r} and client id {client_id!r}")
        set_deployment_active(s, platform, deployment_id, active)
    registrations_changed(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"deployment {deployment_id} of {issuer} is now {'active' if active else 'inactive'}")


@platform_cli.command("approve")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--deployment-id", required=True)
def platform_approve(issuer: str, client_id: str, deployment_id: str) -> None:
    """Activate a deployment (e.g. one first seen in a launch)."""
    _set_active(issuer, client_id, deployment_id, True)


@platform_cli.command("deactivate")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--deployment-id", required=True)
def platform_deactivate(issuer: str, client_id: str, deployment_id: str) -> None:
    """Stop a deployment from launching the tool."""
    _set_active(issuer, client_id, deployment_id, False)


_DURATION = re.compile(r"^(\d+)([smhd])$")


def parse_duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise click.BadParameter("use e.g. 30m, 12h or 7d")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


@platform_cli.command("registration-link")
@click.option("--expires", default="7d", show_default=True, help="Validity, e.g. 12h or 7d.")
@click.option("--note", default="", help="Who the link is for (shown to operators).")
@click.option("--base-url", default=None, help="Public URL of the tool (default: LTI_TOOL_BASE_URL).")
def platform_registration_link(expires: str, note: str, base_url: str | None) -> None:
    """Print a one-time URL for LTI Dynamic Registration (paste it into Moodle's "Tool URL")."""
    base = (base_url or current_app.config["BASE_URL"]).rstrip("/")
    if not base:
        raise click.ClickException("set LTI_TOOL_BASE_URL (the tool's public URL) or pass --base-url")
    ttl = parse_duration(expires)
    with db.session_scope(write=True) as s:
        token, link = issue_link(s, ttl, note)
        expires_at = link.expires_at
    click.echo(f"{base}/lti/register?t={token}")
    click.echo(f"valid until {expires_at:%Y-%m-%d %H:%M} UTC, for one registration", err=True)


@keys_cli.command("ensure")
def keys_ensure() -> None:
    """Generate the current and next key if they do not exist."""
    with db.session_scope(write=True) as s:
        keys.ensure_keys(s, current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo("keys present")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Sign with the (already published) next key from now on; publish a new next key."""
    with db.session_scope(write=True) as s:
        rotation = keys.rotate(s, current_app._get_current_object())  # type: ignore[attr-defined]
    grace = int(current_app.config["KEY_RETIRE_GRACE_SECONDS"])
    click.echo(f"current key: {rotation.current_kid}")
    click.echo(f"next key (published, not yet signing): {rotation.next_kid}")
    click.echo(f"retired key: {rotation.retired_kid} (still published for {grace // 3600} h)")


@keys_cli.command("list")
def keys_list() -> None:
    """Show the tool's keys and their states."""
    from .models import ToolKey

    with db.session_scope() as s:
        for key in s.scalars(select(ToolKey).order_by(ToolKey.id)):
            retired = f" retired {key.retired_at:%Y-%m-%d %H:%M}" if key.retired_at else ""
            wiped = " (private key destroyed)" if not key.private_key_sealed else ""
            click.echo(f"{key.kid}  {key.state}  created {key.created_at:%Y-%m-%d %H:%M}{retired}{wiped}")


@keys_cli.command("reencrypt")
def keys_reencrypt() -> None:
    """Encrypt every stored private key with the first of LTI_TOOL_KEY_SECRETS (after adding a new secret in
    front of the old one; SECURITY.md "Rotating the key secret")."""
    with db.session_scope(write=True) as s:
        count = keys.reencrypt(s, current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(
        f"{count} private key(s) encrypted with the first key secret; the older secrets can be removed"
    )


@keys_cli.command("wipe-retired")
def keys_wipe_retired() -> None:
    """Destroy the private keys of keys retired longer than the grace period."""
    with db.session_scope(write=True) as s:
        count = keys.wipe_expired_retired(s, int(current_app.config["KEY_RETIRE_GRACE_SECONDS"]))
    click.echo(f"{count} retired key(s) wiped")


@store_cli.command("purge")
def store_purge() -> None:
    """Delete expired launch-store entries and ended learner sessions (this also happens on its own)."""
    purged = purge(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(
        f"{purged.launch_store} expired launch-store entries and {purged.sessions} ended sessions deleted"
    )
