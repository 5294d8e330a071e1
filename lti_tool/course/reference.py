"""The glossary grouped by initial letter, for its page's letter index (the loader sorts the terms as a German
dictionary does; `pages_loader.term_sort_key`)."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Course, GlossaryTerm
from .pages_loader import term_sort_key


@dataclass(frozen=True, slots=True)
class Letter:
    """One group of the glossary: the terms starting with a letter (digits and signs under "#")."""

    letter: str
    terms: tuple[GlossaryTerm, ...]

    @property
    def anchor(self) -> str:
        return "buchstabe-" + ("0" if self.letter == "#" else self.letter.lower())


def glossary_letters(course: Course) -> list[Letter]:
    """The course's terms (in the loader's order) grouped by initial letter, "#" (digits, signs) first."""
    groups: dict[str, list[GlossaryTerm]] = {}
    for term in course.glossary:
        initial = term_sort_key(term.term)[0][:1].upper()
        groups.setdefault(initial if "A" <= initial <= "Z" else "#", []).append(term)
    ordered = sorted(groups, key=lambda letter: (letter != "#", letter))
    return [Letter(letter, tuple(groups[letter])) for letter in ordered]
