"""The tool's per-module line items: found by resourceId (= module id) or created, once per context.

Found or created by one worker at a time (`single_flight`, keyed by context and module): several workers
resolving the same module at once make one GET and at most one POST; the URL is remembered in `line_item`.
"""

from __future__ import annotations

from flask import Flask

from ..cache import get_store
from ..course.model import Module
from ..db import session_scope
from .ags import AgsClient
from .outbox.targets import known_lineitem, remember_lineitem
from .singleflight import single_flight


def label(module: Module) -> str:
    return f"{module.position}. {module.title}"


class LineItemRemoved(Exception):
    """The platform said this line item no longer exists (the teacher deleted it): it is not created again."""

    def __init__(self, url: str) -> None:
        super().__init__("the grade item was deleted in the LMS (404); a teacher can create it again")
        self.url = url


def module_lineitem(
    app: Flask, client: AgsClient, *, context_id: int, lineitems_url: str, course_id: str, module: Module
) -> str:
    def cached() -> str | None:
        with session_scope(app) as s:
            known = known_lineitem(s, context_id, course_id, module.id)
        if known is not None and known[1]:
            raise LineItemRemoved(known[0])
        return known[0] if known else None

    def fetch() -> str:
        url = client.find_lineitem(lineitems_url, resource_id=module.id, tag=course_id)
        if url is None:
            url = client.create_lineitem(
                lineitems_url, resource_id=module.id, tag=course_id, label=label(module)
            )
        with session_scope(app, write=True) as s:
            remember_lineitem(
                s,
                context_id=context_id,
                url=url,
                course_id=course_id,
                module_id=module.id,
                label=label(module),
            )
        return url

    timeouts = float(app.config["HTTP_CONNECT_TIMEOUT"]) + float(app.config["HTTP_READ_TIMEOUT"])
    return single_flight(
        get_store(app),
        f"lineitem:{context_id}:{course_id}:{module.id}",
        ttl=int(3 * timeouts) + 5,
        cached=cached,
        fetch=fetch,
    )
