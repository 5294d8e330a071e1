"""gunicorn's logs (error and access) through the tool's one redaction point (lti_tool/logredact.py).

A learner's tool session travels in the path (`/s/<token>/…`, see auth.py), a registration link's token in the
query (`/lti/register?t=…`): whoever reads a log that keeps them could use them. gunicorn creates this logger
class in its master process before it forks the workers, so installing the redacting record factory here covers
every line gunicorn writes, including the master's. (A reverse proxy in front of the tool keeps its own log:
configure it the same way, or log without the path and query.)
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from .logconfig import format_gunicorn
from .logredact import install


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn has no type hints
    def setup(self, cfg: Any) -> None:
        install()
        super().setup(cfg)
        # JSON lines when the tool writes JSON (LTI_TOOL_LOG_FORMAT=json), like the tool's own.
        format_gunicorn([*self.error_log.handlers, *self.access_log.handlers])
