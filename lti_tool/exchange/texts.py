"""What a reply, a moderation reason and a municipality may hold, and the errors a refused exchange write
raises (each with a `code` the views translate)."""

from __future__ import annotations

import re
from typing import Literal

from ..progress import normalize_text

REPLY_MAX = 2000  # characters, after normalising line breaks
MUNICIPALITY_MAX = 100
REASON_MAX = 500


class ExchangeError(Exception):
    """A refused exchange write; nothing was changed. `code` says why (views pick the words)."""

    code = "exchange_error"


class AnswerNotFound(ExchangeError):
    """No answer with this id on this page (another context, course or module, or none)."""

    code = "answer_not_found"


class ReplyNotFound(ExchangeError):
    code = "reply_not_found"


class NoOwnAnswer(ExchangeError):
    """Replies come from learners who have submitted their own answer (as reading the others' does)."""

    code = "no_own_answer"


class TextInvalid(ExchangeError):
    def __init__(self, code: Literal["empty", "too_long"], length: int, maximum: int) -> None:
        super().__init__(f"{code}: {length} characters, allowed 1..{maximum}")
        self.code = code
        self.length = length
        self.maximum = maximum


def checked_text(raw: str | None, maximum: int) -> str:
    """A reply or a reason: normalised, not empty, at most `maximum` characters (TextInvalid)."""
    clean = normalize_text(raw or "")
    if not clean:
        raise TextInvalid("empty", 0, maximum)
    if len(clean) > maximum:
        raise TextInvalid("too_long", len(clean), maximum)
    return clean


_SPACES = re.compile(r"\s+")


def checked_municipality(raw: str | None) -> str:
    """One line (runs of white space, line breaks included, become one space), 1..MUNICIPALITY_MAX characters,
    with a letter in it (zero-width spaces, soft hyphens or a braille blank alone showed as no name)."""
    clean = _SPACES.sub(" ", normalize_text(raw or "")).strip()
    if not any(c.isalpha() for c in clean):
        raise TextInvalid("empty", 0, MUNICIPALITY_MAX)
    if len(clean) > MUNICIPALITY_MAX:
        raise TextInvalid("too_long", len(clean), MUNICIPALITY_MAX)
    return clean
