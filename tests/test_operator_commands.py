"""The commands an operator is told to run work as written: `scripts/flask …` from any folder with nothing
activated, every `scripts/flask` command the README and the pages name exists, and no text still tells people to
run a bare `flask --app app` (which needs an activated venv, and picks up any other `flask` on PATH)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import click
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from lti_tool.commands import GROUPS

ROOT = Path(__file__).resolve().parent.parent
COMMAND = re.compile(r"scripts/flask((?: [a-z][a-z-]*){1,2})")
TEXTS = ["README.md", "config", "templates", "lti_tool", "migrations"]


def _texts() -> dict[Path, str]:
    found: dict[Path, str] = {}
    for name in TEXTS:
        path = ROOT / name
        files = (
            [path]
            if path.is_file()
            else [
                p for p in path.rglob("*") if p.suffix in {".md", ".py", ".html", ".po", ".ini", ".example"}
            ]
        )
        for file in files:
            found[file] = file.read_text(encoding="utf-8")
    return found


def test_every_named_command_exists(app: Flask, runner: FlaskCliRunner) -> None:
    named: set[tuple[str, ...]] = set()
    for text in _texts().values():
        for match in COMMAND.finditer(text):
            named.add(tuple(match.group(1).split()))
    assert ("admin", "create-user") in named and ("grades", "worker") in named  # the scan finds them
    for words in sorted(named):
        group = app.cli.get_command(click.Context(app.cli), words[0])
        assert group is not None, f"scripts/flask {words[0]} is named but does not exist"
        args = list(words[:1])
        if len(words) == 2 and isinstance(group, click.Group):
            assert words[1] in group.commands, f"scripts/flask {' '.join(words)} is named but does not exist"
            args.append(words[1])
        result = runner.invoke(args=[*args, "--help"])
        assert result.exit_code == 0, (words, result.output)


def test_the_help_lists_every_group_though_none_is_loaded_at_start(
    app: Flask, runner: FlaskCliRunner
) -> None:
    listed = runner.invoke(args=["--help"])
    assert listed.exit_code == 0, listed.output
    for (
        name
    ) in GROUPS:  # lti_tool/commands.py: a web process imports none of them (tests/test_startup_imports.py)
        assert re.search(rf"^  {re.escape(name)}\s+\S", listed.output, re.MULTILINE), (name, listed.output)


def test_no_text_asks_for_a_bare_flask_command() -> None:
    stale = [str(path.relative_to(ROOT)) for path, text in _texts().items() if "flask --app" in text]
    assert stale == []


@pytest.mark.slow
def test_scripts_flask_works_from_another_folder_without_an_activated_venv(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "FLASK_APP") and not k.startswith("LTI_TOOL_")
    }
    env["PATH"] = "/usr/bin:/bin"  # no venv on PATH
    env["LTI_TOOL_INSTANCE_PATH"] = str(tmp_path / "instance")

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / "scripts" / "flask"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            input=input,
        )

    created = run("admin", "create-user", "anna", "--password-stdin", input="a long enough passphrase\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout == "Operator anna created. Sign in at /admin/login\n"
    assert created.stderr == ""  # no migration or library lines around the command's own output
    listed = run("admin", "list-users")
    assert listed.returncode == 0 and listed.stdout.startswith("anna  role operator  created ")
    refused = run("admin", "create-user", "ben", "--password-stdin", input="short\n")
    assert refused.returncode != 0 and "at least 12 characters" in refused.stderr
