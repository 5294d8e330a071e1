"""Where a learner's grades go: the activities (resource links) of a course context that accept grades, and the
tool's per-module line items (table `line_item`) created through the platform's line-item container.

A target is one grade column for one learner, stored in the row's columns: course_id, module_id (None: the
course result), destination (`Destination`) and resource_link_id (for a link's own line item). Its key
(GradeOutbox.target) only identifies it among the learner's rows in a context, for the newest-row question and
the gradebook's columns; nothing reads meaning out of it:
  course:<course>@link:<resource_link pk>            the launched whole-course link's own line item
  module:<course>/<module>@link:<resource_link pk>   a single-module link's own line item
  module:<course>/<module>@lineitems                 the tool's per-module line item (found or created)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ...course.model import Course
from ...db import insert_for
from ...models import Context, LineItem, LinkLaunch, ResourceLink, utcnow
from .rows import Destination

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


@dataclass(frozen=True, slots=True)
class Target:
    """Where one grade of a learner goes (see the module's docstring)."""

    key: str
    module_id: str | None  # None: the course result
    lineitem_url: str | None  # None: a per-module line item not found or created yet
    resource_link_id: int | None
    destination: Destination = Destination.LINK


class ContextScopes(Protocol):
    """What the targets need of a context: a `Context` row, or the copy a request read (auth.ContextRecord)."""

    @property
    def id(self) -> int: ...
    @property
    def ags_scopes(self) -> list[Any] | None: ...
    @property
    def lineitems_url(self) -> str | None: ...


def targets_for(
    s: Session,
    context: ContextScopes,
    user_id: int,
    course: Course,
    modules: Collection[str],
    *,
    link_ids: Collection[int] | None = None,
    unlaunched: bool = False,
) -> list[Target]:
    """Where the learner's grades go: the activities (resource links) of this course that accept grades.

    A link accepts grades when its launch carried a `lineitem` (Moodle: "Accept grades from the tool" on). The
    course result goes to the whole-course links the learner launched (all of them with `unlaunched`, the
    teacher's "send" action), a module's result to the links that deliver just that module. Per-module line
    items through the container only for a whole-course link whose teacher asked for them
    (`module_grade_items`), never for a module that has its own link, and never again once removed.
    `link_ids` keeps only the targets of those links.
    """
    scopes = context.ags_scopes
    if scopes is not None and SCORE_SCOPE not in scopes:
        return []  # the platform does not accept scores from us here
    launched = (
        select(LinkLaunch.id)
        .where(LinkLaunch.resource_link_id == ResourceLink.id, LinkLaunch.user_id == user_id)
        .exists()
    )
    links = s.execute(
        select(
            ResourceLink.id,
            ResourceLink.module_id,
            ResourceLink.lineitem_url,
            ResourceLink.module_grade_items,
            launched,
        )
        .where(
            ResourceLink.context_id == context.id,
            ResourceLink.course_id == course.id,
            ResourceLink.lineitem_url.is_not(None),
        )
        .order_by(ResourceLink.id)
    ).all()
    chosen = [link for link in links if link_ids is None or link.id in link_ids]
    targets: list[Target] = []
    wants_module_items = False
    for link_id, module_id, url, module_items, learner_launched in chosen:
        if module_id is None and (learner_launched or unlaunched):
            targets.append(Target(f"course:{course.id}@link:{link_id}", None, url, link_id))
            wants_module_items = wants_module_items or module_items
    with_own_link = {link.module_id for link in links if link.module_id is not None}
    for module in course.modules:
        if module.id in modules:
            for link_id, module_id, url, _, _ in chosen:
                if module_id == module.id:
                    targets.append(
                        Target(f"module:{course.id}/{module.id}@link:{link_id}", module.id, url, link_id)
                    )
    if not (wants_module_items and context.lineitems_url and scopes and LINEITEM_SCOPE in scopes):
        return targets
    auto = [m.id for m in course.modules if m.id in modules and m.id not in with_own_link]
    known = known_lineitems(s, context.id, course.id, auto) if auto else {}
    for module_id in auto:
        url, removed = known.get(module_id, (None, False))
        if not removed:
            targets.append(
                Target(
                    f"module:{course.id}/{module_id}@lineitems", module_id, url, None, Destination.MODULE_ITEM
                )
            )
    return targets


def known_lineitems(
    s: Session, context_id: int, course_id: str, module_ids: Collection[str]
) -> dict[str, tuple[str, bool]]:
    """The tool's per-module line items of a context: module id -> (URL, removed in the LMS)."""
    found: dict[str, tuple[str, bool]] = {}
    for module_id, url, removed_at in s.execute(
        select(LineItem.resource_id, LineItem.url, LineItem.removed_at)
        .where(
            LineItem.context_id == context_id,
            LineItem.resource_id.in_(list(module_ids)),
            LineItem.tag == course_id,
            LineItem.resource_link_id.is_(None),
        )
        .order_by(LineItem.id.desc())
    ):
        found[str(module_id)] = (url, removed_at is not None)  # the oldest wins
    return found


def known_lineitem(s: Session, context_id: int, course_id: str, module_id: str) -> tuple[str, bool] | None:
    """The per-module line item of a context (URL, removed in the LMS); None: find or create it."""
    found = s.execute(
        select(LineItem.url, LineItem.removed_at)
        .where(
            LineItem.context_id == context_id,
            LineItem.resource_id == module_id,
            LineItem.tag == course_id,
            LineItem.resource_link_id.is_(None),
        )
        .order_by(LineItem.id)
        .limit(1)
    ).first()
    return (found.url, found.removed_at is not None) if found else None


@dataclass(frozen=True, slots=True)
class Columns:
    """The grade items of one course context that take results: the course's and each module's targets."""

    course: frozenset[str]
    modules: dict[str, frozenset[str]]

    def expected(self, modules_with_result: Collection[str]) -> set[str]:
        """The target keys that should hold a value for a learner with results in these modules."""
        if not modules_with_result:
            return set()
        keys = set(self.course)
        for module_id in modules_with_result:
            keys |= self.modules.get(module_id, frozenset())
        return keys


def grade_columns(s: Session, context: ContextScopes | int, course: Course) -> Columns | None:
    """Every grade target of the context's activities, launched by the learner or not (two statements; one when
    given the context itself rather than its id)."""
    if isinstance(context, int):
        found = s.get(Context, context)
        if found is None:
            return None
        context = found
    modules: dict[str, set[str]] = {}
    course_keys: set[str] = set()
    for target in targets_for(s, context, 0, course, {m.id for m in course.modules}, unlaunched=True):
        if target.module_id is None:
            course_keys.add(target.key)
        else:
            modules.setdefault(target.module_id, set()).add(target.key)
    return Columns(frozenset(course_keys), {m: frozenset(keys) for m, keys in modules.items()})


def remember_lineitem(
    s: Session, *, context_id: int, url: str, course_id: str, module_id: str, label: str
) -> None:
    ins = insert_for(s)(LineItem).values(
        context_id=context_id,
        url=url,
        resource_id=module_id,
        tag=course_id,
        label=label[:255],
        score_maximum=100.0,
        created_at=utcnow(),
    )
    s.execute(ins.on_conflict_do_nothing(index_elements=[LineItem.context_id, LineItem.url]))


def forget_lineitem(s: Session, *, context_id: int, url: str) -> None:
    s.execute(delete(LineItem).where(LineItem.context_id == context_id, LineItem.url == url))
