"""The accessibility statement names only checks that exist: every browser test it cites is in tests/browser
and runs axe-core on its pages."""

from __future__ import annotations

from pathlib import Path

from lti_tool.legal.accessibility import STATEMENT

BROWSER_TESTS = Path(__file__).resolve().parent.parent / "browser"


def test_every_check_the_statement_names_is_a_browser_test_with_axe() -> None:
    assert STATEMENT.checks
    for check in STATEMENT.checks:
        source = (BROWSER_TESTS / check.test_file).read_text()
        assert "check_page(" in source or "assert_no_axe_violations(" in source, check.test_file
        assert "[1280, 360]" in source, f"{check.test_file} does not test both widths"


def test_every_browser_test_file_is_named_in_the_statement() -> None:
    named = {check.test_file for check in STATEMENT.checks}
    files = {p.name for p in BROWSER_TESTS.glob("test_*_a11y.py")}
    assert files <= named, f"the statement does not say what {sorted(files - named)} checks"
