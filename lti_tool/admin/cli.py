"""`flask --app app admin …`: operator accounts for the operator area (/admin). There is no sign-up page: whoever
can run commands on the server decides who may sign in."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from .. import db
from .accounts import (
    PASSWORD_RULE,
    AccountError,
    check_password,
    check_username,
    create_operator,
    delete_operator,
    list_operators,
)

admin_cli = AppGroup("admin", help="Operator accounts for the operator area (/admin).")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    click.echo(PASSWORD_RULE)
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    return password


@admin_cli.command("create-user")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts) instead of prompting twice.",
)
def create_user(username: str, password_stdin: bool) -> None:
    """Create an operator account. Passwords: at least 12 characters, not one of the 30,000 most common
    passwords, hard to guess (zxcvbn score 3 of 4); stored as a scrypt hash."""
    try:
        name = check_username(username)
        password = _read_password(password_stdin)
        check_password(password, name)
        with db.session_scope(write=True) as s:
            create_operator(s, name, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"operator {name} created; sign in at /admin/login")


@admin_cli.command("list-users")
def list_users() -> None:
    """Show the operator accounts and when each last signed in."""
    with db.session_scope() as s:
        operators = list_operators(s)
    if not operators:
        click.echo("no operator accounts (create one with `flask --app app admin create-user NAME`)")
    for op in operators:
        last = f"{op.last_login_at:%Y-%m-%d %H:%M} UTC" if op.last_login_at else "never"
        click.echo(f"{op.username}  created {op.created_at:%Y-%m-%d %H:%M} UTC  last sign-in {last}")


@admin_cli.command("delete-user")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_user(username: str, yes: bool) -> None:
    """Delete an operator account; its sign-ins end with their next request."""
    if not yes:
        click.confirm(f"Delete operator {username!r}?", abort=True)
    with db.session_scope(write=True) as s:
        deleted = delete_operator(s, username)
    if not deleted:
        raise click.ClickException(f"no operator named {username!r}")
    click.echo(f"operator {username} deleted")
