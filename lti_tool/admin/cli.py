"""`scripts/flask admin …`: operator accounts for the operator area (/admin). There is no sign-up page: whoever
can run commands on the server decides who may sign in."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from .. import db
from .accounts import (
    PASSWORD_RULE,
    AccountError,
    Role,
    check_password,
    check_username,
    create_operator,
    delete_operator,
    list_operators,
)

admin_cli = AppGroup("admin", help="Operator accounts for the operator area (/admin).")


def _read_password(from_stdin: bool, username: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    click.echo(PASSWORD_RULE)

    def checked(password: str) -> str:
        try:
            check_password(password, username)
        except AccountError as exc:
            raise click.UsageError(str(exc)) from exc
        return password

    # A password that breaks the rule is refused at once and asked for again, before the repetition.
    password: str = click.prompt(
        "Password", hide_input=True, confirmation_prompt="Repeat the password", value_proc=checked
    )
    return password


ROLE_HELP = (
    "operator: the operator area (platforms, keys, grades, health, courses); "
    "office: the certification office, which sees the certification register only."
)


@admin_cli.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.OPERATOR.value,
    show_default=True,
    help=ROLE_HELP,
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts) instead of prompting twice.",
)
def create_user(username: str, role: str, password_stdin: bool) -> None:
    """Create an account of the operator area: an operator, or (--role office) the certification office.
    Passwords: at least 12 characters, not one of the 30,000 most common passwords, hard to guess (zxcvbn
    score 3 of 4); stored as a scrypt hash."""
    try:
        name = check_username(username)
        password = _read_password(password_stdin, name)
        check_password(password, name)
        with db.session_scope(write=True) as s:
            create_operator(s, name, password, Role(role))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    what = "Operator" if role == Role.OPERATOR else "Certification office account"
    click.echo(f"{what} {name} created. Sign in at {current_app.config['BASE_URL']}/admin/login")


@admin_cli.command("list-users")
def list_users() -> None:
    """Show the operator accounts and when each last signed in."""
    with db.session_scope() as s:
        operators = list_operators(s)
    if not operators:
        click.echo("no operator accounts (create one with `scripts/flask admin create-user NAME`)")
    for op in operators:
        last = f"{op.last_login_at:%Y-%m-%d %H:%M} UTC" if op.last_login_at else "never"
        click.echo(
            f"{op.username}  role {op.role}  created {op.created_at:%Y-%m-%d %H:%M} UTC  last sign-in {last}"
        )


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
