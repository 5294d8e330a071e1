"""Text from people and platforms as the tool keeps it: without the characters that change how the text around
them reads.

The explicit bidirectional formatting characters (Unicode's embeddings, overrides and isolates, U+202A–U+202E
and U+2066–U+2069) are dropped from everything a learner types (practice answers, replies, reasons, the
municipality) and from names and titles a platform sends. A right-to-left override in a name ("Lea\u202eabc"
shows "Leacba") reverses the text after it, up to the end of its paragraph: the rest of a sentence the name is
put into, or the rest of a line of a list. Unicode's bidirectional algorithm lays out Arabic or Hebrew text
correctly without them; the marks LRM, RLM and ALM, which override nothing, are kept.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_BIDI_CONTROLS = re.compile(f"[{BIDI_CONTROLS}]")


def without_bidi_controls(text: str) -> str:
    return _BIDI_CONTROLS.sub("", text)


def shown_id(value: str) -> str:
    """An identifier a platform sent (an LTI `sub`: any string of up to 255 characters) as a page or an export
    shows it: without what `str.isprintable` refuses but the space (control and format characters, the bidi
    controls above, zero-width spaces, line separators), which would show nothing or turn the text around it.
    The id stays stored and compared as sent; one that is nothing but such characters is shown by their code
    points (U+200B)."""
    if value.isprintable():  # every id a real platform sends (Moodle's are numbers): the quick way
        return value
    shown = "".join(c for c in value if c.isprintable())
    return shown or " ".join(f"U+{ord(c):04X}" for c in value[:8]) + ("…" if len(value) > 8 else "")
