"""gunicorn's access log without session tokens.

A learner's tool session travels in the path (`/s/<token>/…`, see auth.py): whoever reads an access log that keeps
paths could open that learner's pages until the session expires. This logger writes `/s/-/…` instead. (A reverse
proxy in front of the tool keeps its own log: configure it the same way, or log without the path.)
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

SESSION_IN_PATH = re.compile(r"/s/[^/?#\s]+")


def redact(text: str) -> str:
    return SESSION_IN_PATH.sub("/s/-", text)


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn has no type hints
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):  # request line, path, referer
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
