"""The tool's private keys at rest: encrypted, under a key derived from a secret the operator sets.

Encryption is Fernet from `cryptography` (AES-128-CBC with an HMAC-SHA256 over it, a timestamped token); the
Fernet key is derived with HKDF-SHA256 from the operator's secret. The secrets are `KEY_SECRETS` (environment
`LTI_TOOL_KEY_SECRETS`: one secret, or a JSON list, newest first); without it, `SECRET_KEY` is the secret.
Keys are always encrypted with the first secret and decrypted with any of them (MultiFernet), which is how the
secret is rotated (SECURITY.md "Rotating the key secret"):

1. put the new secret first: `LTI_TOOL_KEY_SECRETS='["new secret", "old secret"]'` and restart;
2. `scripts/flask keys reencrypt` encrypts every stored key with the new secret;
3. remove the old secret and restart.

A database dump, a backup or a read-only SQL injection therefore does not hand out the keys that sign the tool's
grade requests and deep-linking answers: the secret lives in the environment, not in the database.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"nama-lti tool private keys"
INFO = b"fernet v1"


class KeyLocked(RuntimeError):
    """A stored key cannot be decrypted with the configured secrets."""


def derive(secret: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def configured_secrets(config: Mapping[str, Any]) -> tuple[str, ...]:
    """KEY_SECRETS (a string or a list, newest first), else (SECRET_KEY,)."""
    value = config.get("KEY_SECRETS")
    if isinstance(value, str):
        value = [value]
    secrets = tuple(str(v) for v in (value or ()) if str(v))
    if secrets:
        return secrets
    fallback = str(config.get("SECRET_KEY") or "")
    if not fallback:
        raise KeyLocked(
            "no secret to encrypt the tool keys with: set LTI_TOOL_KEY_SECRETS or LTI_TOOL_SECRET_KEY"
        )
    return (fallback,)


class KeyBox:
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise KeyLocked("no key secret configured")
        self._fernet = MultiFernet([derive(s) for s in secrets])

    def seal(self, pem: str) -> str:
        return self._fernet.encrypt(pem.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise KeyLocked(
                "a tool key cannot be decrypted with the configured secrets (LTI_TOOL_KEY_SECRETS, else "
                "LTI_TOOL_SECRET_KEY): list the secret it was encrypted with (SECURITY.md)"
            ) from exc

    def reseal(self, sealed: str) -> str:
        """The same key, encrypted with the first (newest) secret."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken as exc:
            raise KeyLocked("a tool key cannot be decrypted with the configured secrets") from exc


def keybox(app: Any) -> KeyBox:
    """The app's KeyBox (built once per configured secret list)."""
    secrets = configured_secrets(app.config)
    cached = app.extensions.get("nama_keybox")
    if cached is None or cached[0] != secrets:
        cached = (secrets, KeyBox(secrets))
        app.extensions["nama_keybox"] = cached
    box: KeyBox = cached[1]
    return box
