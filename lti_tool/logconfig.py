"""How the tool's processes log: one handler on standard error, the tool at LOG_LEVEL, libraries quiet.

Every process (gunicorn workers, grade workers, `scripts/flask` commands, the quickstart) goes through
`configure(app)` from `create_app`. Libraries log warnings and errors only: Alembic's "Context impl …" lines and
the development server's request lines are noise to an operator (and a request line carries the URL).
A process whose logging someone else set up already (pytest, an embedding program) keeps its handlers.
"""

from __future__ import annotations

import logging
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_LIBRARIES = ("alembic", "werkzeug", "urllib3", "requests", "pylti1p3", "babel", "flask_babel")


def configure(config: dict[str, Any]) -> None:
    level = str(config.get("LOG_LEVEL") or "INFO").upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"LTI_TOOL_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR (not {level!r})")
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()  # standard error
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    library_level = max(logging.WARNING, logging.getLevelNamesMapping()[level])
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)


def to_file(path: str, *, console_level: int = logging.WARNING) -> None:
    """The quickstart's set-up: every line at INFO (request lines of the development servers too) into `path`,
    only warnings and errors on the console."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(console_level)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root.addHandler(file_handler)
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.INFO)
