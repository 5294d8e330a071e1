"""`scripts/flask admin create-user | list-users | delete-user`: scrypt hashes, the password rule said first and
checked before the repetition, prompts twice."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from lti_tool.admin.accounts import PASSWORD_RULE, authenticate
from lti_tool.db import session_scope
from lti_tool.models import Operator

GOOD = "a long enough passphrase"


def test_create_user_prompts_twice_and_stores_a_scrypt_hash(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["admin", "create-user", "Anna"], input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat the password" in result.output and GOOD not in result.output
    assert result.output.splitlines()[-1] == "Operator anna created. Sign in at /admin/login"
    with session_scope(app) as s:
        operator = s.scalars(select(Operator)).one()
        assert operator.username == "anna"  # user names compare case-insensitively
        assert operator.password_hash.startswith("scrypt:") and GOOD not in operator.password_hash
        assert authenticate(s, "ANNA", GOOD) is not None
        assert authenticate(s, "anna", GOOD + "x") is None


def test_create_user_refuses_mismatched_repetition_short_passwords_and_duplicates(
    app: Flask, runner: FlaskCliRunner
) -> None:
    mismatch = runner.invoke(args=["admin", "create-user", "anna"], input=f"{GOOD}\nsomething else!!\n" * 1)
    assert mismatch.exit_code != 0
    short = runner.invoke(args=["admin", "create-user", "anna", "--password-stdin"], input="elevenchars\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    blank = runner.invoke(args=["admin", "create-user", "anna", "--password-stdin"], input=" " * 14 + "\n")
    assert blank.exit_code != 0
    bad_name = runner.invoke(args=["admin", "create-user", "an na", "--password-stdin"], input=f"{GOOD}\n")
    assert bad_name.exit_code != 0 and "user names" in bad_name.output
    ok = runner.invoke(args=["admin", "create-user", "anna", "--password-stdin"], input=f"{GOOD}\n")
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(args=["admin", "create-user", "Anna", "--password-stdin"], input=f"{GOOD}\n")
    assert again.exit_code != 0 and "exists already" in again.output
    with session_scope(app) as s:
        assert len(s.scalars(select(Operator)).all()) == 1


def test_create_user_says_the_rule_first_and_asks_again_before_the_repetition(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(args=["admin", "create-user", "anna"], input=f"elevenchars\n{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines() if line.strip()]
    assert lines[0] == PASSWORD_RULE
    assert lines[1:5] == [
        "Password:",
        "Error: the password must be at least 12 characters long",
        "Password:",
        "Repeat the password:",
    ]
    with session_scope(app) as s:
        assert authenticate(s, "anna", GOOD) is not None


def test_list_and_delete_users(app: Flask, runner: FlaskCliRunner) -> None:
    assert "no operator accounts" in runner.invoke(args=["admin", "list-users"]).output
    runner.invoke(args=["admin", "create-user", "anna", "--password-stdin"], input=f"{GOOD}\n")
    runner.invoke(args=["admin", "create-user", "ben", "--password-stdin"], input=f"{GOOD}\n")
    listing = runner.invoke(args=["admin", "list-users"]).output
    assert "anna" in listing and "ben" in listing and "last sign-in never" in listing
    declined = runner.invoke(args=["admin", "delete-user", "ben"], input="n\n")
    assert declined.exit_code != 0
    assert runner.invoke(args=["admin", "delete-user", "ben", "--yes"]).exit_code == 0
    assert "ben" not in runner.invoke(args=["admin", "list-users"]).output
    missing = runner.invoke(args=["admin", "delete-user", "ben", "--yes"])
    assert missing.exit_code != 0 and "no operator named" in missing.output


def test_the_password_rule_is_said_before_asking_and_common_or_guessable_passwords_are_refused(
    app: Flask, runner: FlaskCliRunner
) -> None:
    prompted = runner.invoke(args=["admin", "create-user", "anna"], input=f"{GOOD}\n{GOOD}\n")
    assert prompted.exit_code == 0
    rule = prompted.output.index("not one of the 30,000 most common passwords")
    assert rule < prompted.output.index("Password: ")
    for weak, why in [
        ("aaaaaaaaaaaa", "too easy to guess"),  # 12 characters, accepted by a length rule
        ("password1234", "30,000 most common"),
        ("qwertzuiopasdf", "too easy to guess"),
        ("123456789012", "too easy to guess"),
        ("Passwort2024", "too easy to guess"),
        ("ben-ben-ben-ben", "too easy to guess"),
    ]:
        result = runner.invoke(args=["admin", "create-user", "ben", "--password-stdin"], input=f"{weak}\n")
        assert result.exit_code != 0 and why in result.output, (weak, result.output)
    with session_scope(app) as s:
        assert [o.username for o in s.scalars(select(Operator))] == ["anna"]
