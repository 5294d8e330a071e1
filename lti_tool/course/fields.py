"""Reading course files with problems instead of exceptions.

Each reader records a `Problem` (file + field + message) and carries on with a harmless stand-in value, so an
author sees all problems of a course in one run. Field names count list entries from 1, as an author counts
`[[questions]]` blocks in a file: `questions[2].options[1].explanation` is the first option of the second
question.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

_TOML_POSITION = re.compile(r"\s*\(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$")


@dataclass(frozen=True, slots=True)
class Problem:
    file: str  # relative to the course folder's parent, e.g. "grundlagenkurs/agenda-2030/quiz.toml"
    field: str  # e.g. "questions[2].options[1].explanation"; "" for the file as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}" if self.field else f"{self.file}: {self.message}"


class CourseError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class Report:
    """Collects the problems of one course; `file` names are relative to the course folder's parent."""

    def __init__(self, course_dir: Path) -> None:
        self.base = course_dir.parent
        self._problems: list[Problem] = []
        # Files in the order they were read, so that each file's problems can be listed together.
        self._files: dict[str, int] = {}

    @property
    def problems(self) -> list[Problem]:
        """Grouped by file (in reading order), each file's problems in the order they were found."""
        return sorted(self._problems, key=lambda problem: self._files[problem.file])

    def _visit(self, path: Path) -> str:
        name = self.name(path)
        self._files.setdefault(name, len(self._files))
        return name

    def name(self, path: Path) -> str:
        try:
            return path.relative_to(self.base).as_posix()
        except ValueError:
            return path.as_posix()

    def add(self, path: Path, field_name: str, message: str) -> None:
        self._problems.append(Problem(self._visit(path), field_name, message))

    def read_text(self, path: Path) -> str | None:
        self._visit(path)
        try:
            return path.read_text(encoding="utf-8").removeprefix("\ufeff")
        except FileNotFoundError:
            self.add(path, "", "file not found")
        except UnicodeDecodeError as exc:
            self.add(path, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        except OSError as exc:
            self.add(path, "", f"cannot be read ({exc.strerror})")
        return None

    def parse_toml(self, path: Path, text: str, *, first_line: int = 1) -> dict[str, Any] | None:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            position = _TOML_POSITION.search(message)
            if position is None:
                self.add(path, "", f"TOML syntax error: {message}")
            elif position["line"] is None:
                where = "end of file" if first_line == 1 else "end of front matter"
                self.add(path, where, f"TOML syntax error: {message[: position.start()]}")
            else:
                line = int(position["line"]) + first_line - 1
                where = f"line {line}, column {position['column']}"
                self.add(path, where, f"TOML syntax error: {message[: position.start()]}")
            return None

    def load_toml(self, path: Path) -> dict[str, Any] | None:
        text = self.read_text(path)
        return None if text is None else self.parse_toml(path, text)


@dataclass
class Table:
    """One TOML table of one file: typed getters that report problems and return stand-ins."""

    report: Report
    path: Path
    data: Mapping[str, Any]
    prefix: str = ""
    seen: set[str] = dataclasses.field(default_factory=set)
    broken: set[str] = dataclasses.field(default_factory=set)

    def at(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def problem(self, key: str, message: str) -> None:
        self.broken.add(key)
        self.report.add(self.path, self.at(key), message)

    def counted(self, key: str, *, at_least: int, required: bool = True, default: int = 0) -> int:
        """A whole number not below `at_least`."""
        value = self.integer(key, required=required, default=default)
        if self.valid(key) and value < at_least:
            self.problem(key, f"must be at least {at_least}, not {value}")
        return value

    def has(self, key: str) -> bool:
        return key in self.data

    def valid(self, key: str) -> bool:
        """The key is there and no problem was found with it so far (for follow-up checks)."""
        return key in self.data and key not in self.broken

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                self.problem(key, "missing")
            return None
        return self.data[key]

    def string(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(key, "must be a string")
            return default
        if not value.strip():
            self.problem(key, "must not be empty")
        return value

    def identifier(self, key: str) -> str:
        value = self.string(key)
        if value and not IDENTIFIER.fullmatch(value):
            self.problem(key, f"{value!r} is not a valid identifier ({IDENTIFIER.pattern})")
        return value

    def integer(self, key: str, *, required: bool = True, default: int = 0) -> int:
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, "must be a whole number")
            return default
        return value

    def number(self, key: str, *, required: bool = True, default: float = 0.0) -> float:
        """A whole or decimal number (TOML integer or float)."""
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, "must be a number")
            return default
        return float(value)

    def boolean(self, key: str, *, required: bool = True, default: bool = False) -> bool:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, "must be true or false")
            return default
        return value

    def strings(self, key: str, *, required: bool = True) -> list[str] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problem(key, "must be a list of strings")
            return None
        return value

    def table(self, key: str, *, required: bool = True) -> Table | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(key, "must be a table")
            return None
        return Table(self.report, self.path, value, prefix=f"{self.at(key)}.")

    def tables(self, key: str, *, required: bool = True) -> list[Table]:
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem(key, f"must be a list of tables ([[{self.at(key)}]])")
            return []
        return [
            Table(self.report, self.path, item, prefix=f"{self.at(key)}[{number}].")
            for number, item in enumerate(value, start=1)
        ]

    def end(self, also_allowed: Iterable[str] = ()) -> None:
        """Report the keys nobody asked for (typos, keys from another format)."""
        allowed = self.seen | set(also_allowed)
        for key in self.data:
            if key not in allowed:
                self.problem(key, "unknown key")


def duplicates(values: Iterable[str]) -> list[str]:
    """Values given more than once (empty ones are reported as missing elsewhere)."""
    seen: set[str] = set()
    found: list[str] = []
    for value in values:
        if value and value in seen and value not in found:
            found.append(value)
        seen.add(value)
    return found
