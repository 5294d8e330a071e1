"""An erased person's subject is the HMAC-SHA256 of the JSON list [issuer, client id, sub]: erasure records
written by earlier versions must still match, so the text hashed stays exactly what `json.dumps` writes."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

import pytest

from lti_tool.privacy.subjects import launch_subjects, subject_keys, subject_of, subjects_of

SUBS = [
    "42",
    "",
    'a "quoted" sub',
    "back\\slash",
    "tab\tnew line\ncarriage\rbell\x07",
    "Jürgen Groß – 東京 🙂",
    "\u2028\u2029",
    "x" * 255,
]


@dataclass(frozen=True)
class Platform:
    id: int
    issuer: str
    client_id: str


PLATFORMS = [
    Platform(1, "https://moodle.kreis-dueren.example", "client-1"),
    Platform(2, 'https://ex.example/"quoted"\\', "Düren ☀"),
]


def reference(key: bytes, platform: Platform, sub: str) -> str:
    """The definition: what the erasure log of earlier versions holds."""
    text = json.dumps([platform.issuer, platform.client_id, sub], ensure_ascii=False)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("platform", PLATFORMS, ids=["moodle", "odd"])
def test_subjects_are_the_hmac_of_the_json_list(platform: Platform) -> None:
    config = {"KEY_SECRETS": ["newest secret", "older secret"]}
    keys = subject_keys(config)
    for sub in SUBS:
        expected = [reference(key.key, platform, sub) for key in keys]
        assert [subject_of(key, platform, sub) for key in keys] == expected
        assert [subjects_of(key, platform)(sub) for key in keys] == expected
        assert launch_subjects(config, platform, sub) == expected
