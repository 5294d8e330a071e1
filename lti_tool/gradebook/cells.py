"""The module cells of a gradebook page as markup, built here instead of in the template.

A page shows 50 learners × 8 modules; through template logic each of those 400 cells cost a few translations, a
percent format and escaping, together about as much as reading the page from the database. A cell's markup
depends on little (the module, its state, the quiz score, the practice task's state), so each distinct cell is
built once per page and reused; only a cell with a practice text to review (a link naming its learner) is built
for its learner. Each cell keeps its icon, its meaning for screen readers and its tooltip.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup

from ..course.completion import whole_percent
from ..i18n import percent
from .rows import ModuleCell, Row

ICONS = {"completed": "done", "in_progress": "started", "not_started": "none"}
_ICON = Markup(
    '<svg class="icon icon--{0}" aria-hidden="true" focusable="false"><use href="#gb-{0}"></use></svg>'
)
_OPEN = Markup(
    '\n      <td role="cell" class="gradebook-table__module-cell"><span class="cell-label" aria-hidden="true">{position}</span>'
)
# Markup.format escapes what it is given (words, names, the URL); the icons are markup already.
_PLAIN = _OPEN + Markup(
    '<span class="module-state" title="{position}: {meaning}">{icon}'
    '<span class="visually-hidden">{meaning}</span></span></td>'
)
# A cell to review, around its two parts that name the learner (the link's address and its screen-reader text).
_TO_REVIEW = (
    _OPEN + Markup('<a class="module-state" href="'),
    Markup(
        '" title="{position}: {meaning}, {review}">{icon}{review_icon}<span class="visually-hidden">{meaning}; '
    ),
    Markup("</span></a></td>"),
)
_ANY_USER = 2147483647  # stands for the user id in a review address built once per module


class ModuleCells:
    """Builds a page's module cells (`row(row)`: the markup of one learner's cells); one per request."""

    def __init__(self, keep: dict[str, Any]) -> None:
        self.keep = keep  # the gradebook's view (filter, sort, page), carried to the review and back
        self.words = {
            "completed": _("completed"),
            "in_progress": _("in progress"),
            "not_started": _("not started"),
            "review": _("practice task to review"),
            "revision": _("revision asked for"),
            "quiz": _("quiz"),
        }
        # translated once, filled in per cell
        self._review_text = _("review the practice task of %(name)s, module %(n)s")
        self._percents: dict[int, str] = {}
        self._cells: dict[tuple[int, str, int | None, bool], Markup] = {}
        self._review_parts: dict[tuple[int, str, int | None, bool], tuple[Markup, Markup, Markup]] = {}
        self._review_urls: dict[str, str] = {}

    def _meaning(self, cell: ModuleCell) -> str:
        """What the cell says: its state, the quiz score, a revision asked for."""
        text = self.words[cell.state]
        if cell.attempts:
            score = cell.best_score
            shown = -1 if score is None else whole_percent(score)
            if shown not in self._percents:
                self._percents[shown] = percent(score)
            text += ", " + self.words["quiz"] + " " + self._percents[shown]
        if cell.practice == "revision":
            text += ", " + self.words["revision"]
        return str(text)

    @staticmethod
    def _key(cell: ModuleCell) -> tuple[int, str, int | None, bool]:
        """What a cell's markup depends on (but for the learner of a cell to review)."""
        score = cell.best_score
        shown = (-1 if score is None else whole_percent(score)) if cell.attempts else None
        return (cell.module.position, cell.state, shown, cell.practice == "revision")

    def _plain(self, cell: ModuleCell) -> Markup:
        key = self._key(cell)
        found = self._cells.get(key)
        if found is None:
            found = _PLAIN.format(
                position=cell.module.position,
                meaning=self._meaning(cell),
                icon=_ICON.format(ICONS[cell.state]),
            )
            self._cells[key] = found
        return found

    def _to_review(self, cell: ModuleCell, user_id: int, label: str) -> Markup:
        """A cell whose practice text waits for review: a link to the review, named for its learner."""
        key = self._key(cell)
        parts = self._review_parts.get(key)
        if parts is None:
            head, middle, tail = _TO_REVIEW
            middle = middle.format(
                position=cell.module.position,
                meaning=self._meaning(cell),
                review=self.words["review"],
                icon=_ICON.format(ICONS[cell.state]),
                review_icon=_ICON.format("review"),
            )
            parts = self._review_parts[key] = (head.format(position=cell.module.position), middle, tail)
        module_id = cell.module.id
        url = self._review_urls.get(module_id)
        if url is None:
            url = url_for("instructor.review", user_id=_ANY_USER, module_id=module_id, **self.keep)
            self._review_urls[module_id] = url
        href = url.replace(str(_ANY_USER), str(user_id), 1)
        named = self._review_text % {"name": label, "n": cell.module.position}
        found: Markup = parts[0] + href + parts[1] + named + parts[2]  # Markup + str escapes the str
        return found

    def row(self, row: Row) -> Markup:
        """The markup of one learner's module cells."""
        user_id = row.person.user_id
        return Markup("").join(
            self._to_review(cell, user_id, row.person.label)
            if cell.practice == "submitted" and user_id
            else self._plain(cell)
            for cell in row.modules
        )
