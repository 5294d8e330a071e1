"""The operator's facts for the imprint, the privacy notice and the accessibility statement.

They come from one TOML file the operator keeps (`LTI_TOOL_LEGAL_FILE`; config/legal.example.toml shows every
key with the law that asks for it). A missing fact is shown as a marked placeholder on the pages; a production
start without the required ones logs a warning and the operator area's overview lists them. A file that cannot
be read, is not TOML, or has unknown keys stops the start (a typo must not silently blank an imprint).

The enforcement body defaults to the one for public bodies in North Rhine-Westphalia: the Ombudsstelle für
barrierefreie Informationstechnik (§ 10d BGG NRW, §§ 9 ff. BITVNRW), with the web page and e-mail address it
publishes (www.lbbp.nrw.de/ombudsstelle; the e-mail address as IT.NRW announced it in January 2020).
"""

from __future__ import annotations

import logging
import threading
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from ..i18n import LazyText
from ..i18n import lazy_gettext as _l

log = logging.getLogger(__name__)

# (section, key) -> what the fact is, as the placeholder names it.
LABELS: dict[tuple[str, str], LazyText] = {
    ("provider", "name"): _l("name and legal form of the provider"),
    ("provider", "address"): _l("postal address of the provider"),
    ("provider", "representative"): _l("who represents the provider"),
    ("provider", "email"): _l("e-mail address of the provider"),
    ("provider", "phone"): _l("telephone number of the provider"),
    ("provider", "register"): _l("register entry"),
    ("provider", "vat_id"): _l("VAT identification number"),
    ("provider", "content_responsible"): _l("person responsible for the content (§ 18(2) MStV)"),
    ("privacy", "dpo"): _l("contact of the data-protection officer"),
    ("privacy", "legal_basis"): _l("legal basis of the processing"),
    ("privacy", "hosting"): _l("hosting: who runs the server, and where"),
    ("privacy", "supervisory_authority"): _l("competent data-protection supervisory authority"),
    ("privacy", "log_retention"): _l("how long server logs are kept"),
    ("privacy", "third_countries"): _l("transfers to countries outside the EU"),
    ("accessibility", "feedback_email"): _l("e-mail address for accessibility feedback"),
    ("accessibility", "feedback_url"): _l("contact form for accessibility feedback"),
    ("accessibility", "enforcement_name"): _l("enforcement body"),
    ("accessibility", "enforcement_url"): _l("web page of the enforcement body"),
    ("accessibility", "enforcement_email"): _l("e-mail address of the enforcement body"),
}
# What a production installation must fill in (the imprint and the notice are incomplete without them).
REQUIRED: tuple[tuple[str, str], ...] = (
    ("provider", "name"),
    ("provider", "address"),
    ("provider", "representative"),
    ("provider", "email"),
    ("privacy", "dpo"),
    ("privacy", "legal_basis"),
    ("privacy", "hosting"),
    ("accessibility", "feedback_email"),
)
DEFAULTS: dict[tuple[str, str], str] = {
    ("accessibility", "enforcement_name"): (
        "Ombudsstelle für barrierefreie Informationstechnik des Landes Nordrhein-Westfalen"
    ),
    ("accessibility", "enforcement_url"): "https://www.lbbp.nrw.de/ombudsstelle",
    ("accessibility", "enforcement_email"): "ombudsstelle-barrierefreie-it@mags.nrw.de",
}


class LegalFileError(ValueError):
    """The operator's legal file cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Fact:
    """One operator fact: its value, or a placeholder naming what is missing and where to set it."""

    section: str
    key: str
    value: str

    @property
    def missing(self) -> bool:
        return not self.value

    @property
    def label(self) -> str:
        return str(LABELS[(self.section, self.key)])

    @property
    def setting(self) -> str:
        return f"[{self.section}] {self.key}"

    @property
    def lines(self) -> list[str]:
        return self.value.splitlines()

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class LegalSettings:
    facts: dict[tuple[str, str], Fact]
    source: str  # the file they came from, or "" for none

    def __getitem__(self, name: str) -> Fact:
        section, key = name.split(".", 1)
        return self.facts[(section, key)]

    @property
    def missing_required(self) -> list[Fact]:
        return [self.facts[k] for k in REQUIRED if self.facts[k].missing]


@dataclass(frozen=True)
class _Sections:
    provider: dict[str, Any]
    privacy: dict[str, Any]
    accessibility: dict[str, Any]


def parse(text: str, origin: str = "legal file") -> LegalSettings:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LegalFileError(f"{origin} is not valid TOML: {exc}") from exc
    known_sections = {f.name for f in fields(_Sections)}
    for section, values in data.items():
        if section not in known_sections or not isinstance(values, dict):
            raise LegalFileError(
                f"{origin}: unknown section [{section}] (known: {', '.join(sorted(known_sections))})"
            )
        for key, value in values.items():
            if (section, key) not in LABELS:
                known = ", ".join(k for s, k in LABELS if s == section)
                raise LegalFileError(f"{origin}: unknown key {key!r} in [{section}] (known: {known})")
            if not isinstance(value, str):
                raise LegalFileError(f"{origin}: [{section}] {key} must be a text in quotes")
    facts: dict[tuple[str, str], Fact] = {}
    for section, key in LABELS:
        value = str(data.get(section, {}).get(key, "")).strip()
        facts[(section, key)] = Fact(section, key, value or DEFAULTS.get((section, key), ""))
    return LegalSettings(facts, origin)


def load(path: str) -> LegalSettings:
    if not path:
        return parse("", "")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LegalFileError(f"LTI_TOOL_LEGAL_FILE {path!r} cannot be read: {exc}") from exc
    return parse(text, str(file))


def get_legal() -> LegalSettings:
    settings: LegalSettings = current_app.extensions["nama_legal"]
    return settings


def init_app(app: Flask) -> None:
    settings = load(str(app.config.get("LEGAL_FILE") or ""))
    app.extensions["nama_legal"] = settings
    if settings.missing_required and app.config["ENV"] == "production":
        _warn_once_serving(app, settings)


def _warn_once_serving(app: Flask, settings: LegalSettings) -> None:
    """Log the missing facts once per process, with its first request: a web process that serves the pages
    warns, a command (`scripts/flask …`) keeps its output clean."""
    warned = threading.Event()

    @app.before_request
    def _warn() -> None:
        if warned.is_set():
            return
        warned.set()
        log.warning(
            "imprint, privacy notice and accessibility statement lack operator facts (LTI_TOOL_LEGAL_FILE, see "
            "config/legal.example.toml; the operator area's overview lists them): %s",
            ", ".join(f.setting for f in settings.missing_required),
        )
