"""Browser fixtures for the operator-area test: Debian's Chromium through Playwright (never a downloaded browser)
and axe-core (WCAG 2.0/2.1, A and AA). Kept apart from tests/browser/conftest.py, which the learner-page tests
bring along; both start the same browser the same way.

- `admin_chromium`: the browser (the test is skipped when /usr/bin/chromium is missing, and fails instead with
  NAMA_REQUIRE_BROWSER=1);
- `assert_no_axe_violations(page, label)`;
- `tab_to(page, selector)`: press Tab until the element has the focus (keyboard only, as a person would).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="session")
def admin_chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("NAMA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium) and NAMA_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def assert_no_axe_violations(page: Any, label: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    )
    violations: list[dict[str, Any]] = results.response["violations"]
    if violations:
        report = [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [
                    n["html"][:200] + " | " + n.get("failureSummary", "")[:300] for n in v["nodes"][:5]
                ],
            }
            for v in violations
        ]
        print(f"axe violations on {label}:\n" + json.dumps(report, indent=2, ensure_ascii=False))
    assert not violations, (
        f"{len(violations)} axe rule(s) violated on {label}: {[v['id'] for v in violations]}"
    )


def tab_to(page: Any, selector: str, *, limit: int = 60) -> None:
    """Move the focus with Tab (only) until it is on `selector`; the focus must be visible there."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => document.activeElement && document.activeElement.matches(sel)", selector):
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"focus on {selector} is not visible"
            return
    raise AssertionError(f"Tab never reached {selector}")
