"""A model of how Excel with German regional settings (decimal comma, `;` as list separator) guesses the type of
each field when it opens a CSV file by double click: what a teacher or the certification office sees.

Kept apart from the export's own guard (lti_tool/gradebook/export.py) on purpose: the tests read the CSV back
with this model, written from Excel's behaviour, not from the export's rules. What it knows:
- numbers: 12,5 · -3 · 1.234 (dot as thousands separator) · 1.234,5 · 1E5 · 50 % · (12) · leading zeros dropped
  (007 -> 7) · more than 15 significant digits lost (1234567890123456789 -> 1234567890123450000);
- dates: 1.4.2026 · 01.04.26 · 1.4. (this year) · 1.5 (1 May!) · 1/8 (1 August!) · 3-3 · 2026-04-01 · 2026/4/1 ·
  5. Mai 2026 · Mai 2026 · März 26 · 5-Mai · Jan-26; with a time (12:30, 12:30:15) or a time alone;
- truth values WAHR / FALSCH (and TRUE / FALSE);
- a field starting with = (or + - @ followed by a formula) is a formula; everything else is text, a leading
  apostrophe included (it is not special in a CSV file).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

THIS_YEAR = 2026

MONTHS = {
    "jan": 1, "januar": 1, "january": 1, "jän": 1, "jänner": 1,
    "feb": 2, "februar": 2, "february": 2,
    "mär": 3, "mrz": 3, "märz": 3, "mar": 3, "march": 3, "marz": 3,
    "apr": 4, "april": 4,
    "mai": 5, "may": 5,
    "jun": 6, "juni": 6, "june": 6,
    "jul": 7, "juli": 7, "july": 7,
    "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9,
    "okt": 10, "oct": 10, "oktober": 10, "october": 10,
    "nov": 11, "november": 11,
    "dez": 12, "dec": 12, "dezember": 12, "december": 12,
}  # fmt: skip


@dataclass(frozen=True)
class Cell:
    kind: str  # "empty", "text", "number", "date", "bool", "formula"
    value: Any


_NUMBER = re.compile(r"([+-]?)(\d{1,3}(?:\.\d{3})+|\d+)?(?:,(\d+))?(?:[eE]([+-]?\d+))?\s*(%?)")
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2}))?"
_MONTH = r"([A-Za-zÄäÖöÜü]{3,9})\.?"
_DATES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})"), "ymd"),
    (re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})"), "dmy"),
    (re.compile(r"(\d{1,2})[./-](\d{1,2})\.?"), "dm"),  # 1.4. / 1.5 / 3-3 / 1/8: this year
    (re.compile(r"(\d{1,2})[.]?[ -]" + _MONTH + r"[ -](\d{2}|\d{4})"), "d mon y"),
    (re.compile(r"(\d{1,2})[.]?[ -]" + _MONTH), "d mon"),
    (re.compile(_MONTH + r"[ -](\d{2}|\d{4})"), "mon y"),
]


def _year(text: str) -> int:
    year = int(text)
    return year if len(text) == 4 else (2000 + year if year < 30 else 1900 + year)


def _date(text: str) -> dt.date | None:
    for pattern, kind in _DATES:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        g = m.groups()
        try:
            if kind == "ymd":
                return dt.date(int(g[0]), int(g[1]), int(g[2]))
            if kind == "dmy":
                return dt.date(_year(g[2]), int(g[1]), int(g[0]))
            if kind == "dm":
                return dt.date(THIS_YEAR, int(g[1]), int(g[0]))
            if kind == "d mon y" and g[1].lower() in MONTHS:
                return dt.date(_year(g[2]), MONTHS[g[1].lower()], int(g[0]))
            if kind == "d mon" and g[1].lower() in MONTHS:
                return dt.date(THIS_YEAR, MONTHS[g[1].lower()], int(g[0]))
            if kind == "mon y" and g[0].lower() in MONTHS:
                return dt.date(_year(g[1]), MONTHS[g[0].lower()], 1)
        except ValueError:
            return None  # 31.02. stays text
    return None


def _number(text: str) -> float | None:
    m = _NUMBER.fullmatch(text)
    if m is None or (m.group(2) is None and m.group(3) is None):
        return None
    sign, whole, fraction, exponent, percent = m.groups()
    digits = (whole or "0").replace(".", "") + "." + (fraction or "0")
    value = float(digits) * (10 ** int(exponent) if exponent else 1)
    significant = (whole or "").replace(".", "").lstrip("0") + (fraction or "")
    if len(significant.rstrip("0")) > 15:  # Excel keeps 15 significant digits
        value = float(f"{value:.15g}")
    value = -value if sign == "-" else value
    return value / 100 if percent else value


def read(field: str) -> Cell:
    """What German Excel makes of one CSV field."""
    text = field.strip()
    if not text:
        return Cell("empty", None)
    if text[0] == "=" or (text[0] in "+-@" and _number(text) is None):
        return Cell("formula", text)
    if text.upper() in ("WAHR", "FALSCH", "TRUE", "FALSE"):
        return Cell("bool", text.upper() in ("WAHR", "TRUE"))
    if re.fullmatch(r"\(\d[\d.,]*\)", text):
        negative = _number(text[1:-1])
        return Cell("number", -negative) if negative is not None else Cell("text", field)
    number = _number(text)
    if number is not None:
        return Cell("number", number)
    m = re.fullmatch(r"(.+?)\s+" + _TIME, text)
    if m is not None:
        day = _date(m.group(1))
        if day is not None:
            hours, minutes, seconds = int(m.group(2)), int(m.group(3)), int(m.group(4) or 0)
            return Cell("date", dt.datetime(day.year, day.month, day.day, hours, minutes, seconds))
    m = re.fullmatch(_TIME, text)
    if m is not None:
        return Cell("date", dt.time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)))
    day = _date(text)
    if day is not None:
        return Cell("date", dt.datetime(day.year, day.month, day.day))
    return Cell("text", field)


def shows(field: str) -> str:
    """What the cell shows, for text and numbers (German number format, up to 15 significant digits)."""
    cell = read(field)
    if cell.kind == "number":
        value = float(cell.value)
        return (str(int(value)) if value == int(value) else f"{value:.15g}").replace(".", ",")
    return "" if cell.value is None else str(cell.value)
