"""`scripts/flask …`: the tool's command groups by name, each imported when a command line asks for it.

A web process never runs a command, and the commands' modules (lti_tool/cli.py and every area's cli.py) cost it
0.4-1.3 MB; so `init_app` only names the groups, and the command line imports the one it runs (`scripts/flask
--help` imports them all to list them): click's lazily loading group ("Lazily Loading Subcommands" in click's
documentation).
"""

from __future__ import annotations

import importlib

import click
from flask import Flask
from flask.cli import AppGroup

# A group's name -> "module:attribute" of the group, then the modules that add commands to it.
GROUPS: dict[str, tuple[str, ...]] = {
    "db": ("lti_tool.cli:db_cli",),
    "platform": ("lti_tool.cli:platform_cli",),
    "keys": ("lti_tool.cli:keys_cli",),
    "launch-store": ("lti_tool.cli:store_cli",),
    "course": ("lti_tool.course.cli:course_cli", "lti_tool.review.cli"),  # review adds `export-review`
    "grades": ("lti_tool.grading.cli:grades_cli",),
    "gradebook": ("lti_tool.gradebook.cli:gradebook_cli",),
    "admin": ("lti_tool.admin.cli:admin_cli",),
    "learner": ("lti_tool.privacy.cli:learner_cli",),
}


def _load(name: str) -> click.Command:
    target, *adding = GROUPS[name]
    module, _, attribute = target.partition(":")
    group: click.Command = getattr(importlib.import_module(module), attribute)
    for other in adding:
        importlib.import_module(other)
    return group


class ToolCommands(AppGroup):
    """The app's command group (`app.cli`): the tool's groups are added when first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *GROUPS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in GROUPS and cmd_name not in self.commands:
            self.add_command(_load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


def init_app(app: Flask) -> None:
    commands = ToolCommands()
    commands.commands.update(app.cli.commands)  # those Flask or extensions registered before
    app.cli = commands
