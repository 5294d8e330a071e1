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
