"""Erased persons' subjects: the keyed hash an `Erasure` holds, and the two questions asked about it on the way
(at a launch: hold this person's grades?; at a roster refresh: which of these people stay out?).

Kept apart from erasure.py, which deletes, so that launches and roster refreshes import only this.
The key is derived from the key secret (`LTI_TOOL_KEY_SECRETS`, else `LTI_TOOL_SECRET_KEY`): erasure.py says why.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _json_string
from typing import Any, Protocol

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from ..lti.keystore import configured_secrets
from ..models import Erasure, User

_DERIVATION = b"nama-lti erasure subject v1"
QUERY_CHUNK = 500  # subjects per IN (...) lookup


class PlatformIdentity(Protocol):
    """What names a platform here: a `Platform` row, or the copy a launch reads (lti/toolconf.py)."""

    @property
    def id(self) -> int: ...
    @property
    def issuer(self) -> str: ...
    @property
    def client_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SubjectKey:
    key_id: str
    key: bytes


def subject_keys(config: Mapping[str, Any]) -> tuple[SubjectKey, ...]:
    """One HMAC key per configured key secret, newest first (the first makes new records)."""
    keys = []
    for secret in configured_secrets(config):
        key = hmac.new(secret.encode(), _DERIVATION, hashlib.sha256).digest()
        keys.append(SubjectKey(hashlib.sha256(b"key id:" + key).hexdigest()[:16], key))
    return tuple(keys)


def subject_of(key: SubjectKey, platform: PlatformIdentity, sub: str) -> str:
    """HMAC-SHA256 of the JSON list [issuer, client id, sub] (hex)."""
    return subjects_of(key, platform)(sub)


@functools.lru_cache(maxsize=64)
def _list_start(issuer: str, client_id: str) -> bytes:
    """The JSON list's text up to its last item: `["<issuer>", "<client id>", `."""
    return json.dumps([issuer, client_id], ensure_ascii=False)[:-1].encode() + b", "


def subjects_of(key: SubjectKey, platform: PlatformIdentity) -> Callable[[str], str]:
    """`subject_of` for many subs of one platform (a roster of thousands hashes each member; every launch one).

    The list's text is what `json.dumps([issuer, client id, sub], ensure_ascii=False)` writes: its start kept per
    platform, the sub written by the JSON encoder's own string function (what `json.dumps` calls for a string;
    `json.dumps` itself makes an encoder object per call), the HMAC by OpenSSL in one call."""
    start = _list_start(platform.issuer, platform.client_id)
    secret = key.key

    def of(sub: str) -> str:
        return hmac.digest(secret, start + _json_string(sub).encode() + b"]", "sha256").hex()

    return of


def find_erasure(
    s: Session, keys: Iterable[SubjectKey], platform: PlatformIdentity, sub: str
) -> Erasure | None:
    subjects = [subject_of(key, platform, sub) for key in keys]
    return s.scalars(select(Erasure).where(Erasure.subject.in_(subjects)).limit(1)).first()


@functools.lru_cache(maxsize=4)
def _subject_keys_of(secrets: tuple[str, ...]) -> tuple[SubjectKey, ...]:
    return subject_keys({"KEY_SECRETS": secrets})


def launch_subjects(config: Mapping[str, Any], platform: PlatformIdentity, sub: str) -> list[str]:
    """The subjects a launching person would have been erased under (one per key secret): the values of
    `HOLD_GRADES`'s bind parameter `subjects`."""
    keys = _subject_keys_of(tuple(configured_secrets(config)))
    return [subject_of(key, platform, sub) for key in keys]


# At a launch: an erased person who came back has their grades held (unless the erasure said to send). The
# launch's user upsert writes this as the row's `grades_held` (lti/provision.py), so asking costs no statement
# of its own; a row that is held stays held.
HOLD_GRADES = (
    exists()
    .where(
        Erasure.subject.in_(bindparam("subjects", expanding=True)),
        Erasure.send_grades.is_(False),
    )
    .correlate_except(Erasure)
)


def erased_subs(
    s: Session, config: Mapping[str, Any], platform: PlatformIdentity, subs: Collection[str]
) -> set[str]:
    """Which of `subs` (on `platform`) were erased and have not come back by launching since."""
    hashers = [subjects_of(key, platform) for key in subject_keys(config)]
    by_subject = {of(sub): sub for sub in subs for of in hashers}
    subjects = list(by_subject)
    erased: set[str] = set()
    for start in range(0, len(subjects), QUERY_CHUNK):
        chunk = subjects[start : start + QUERY_CHUNK]
        erased |= {
            by_subject[x] for x in s.scalars(select(Erasure.subject).where(Erasure.subject.in_(chunk)))
        }
    if not erased:
        return erased
    came_back = set(
        s.scalars(select(User.sub).where(User.platform_id == platform.id, User.sub.in_(sorted(erased))))
    )
    return erased - came_back
