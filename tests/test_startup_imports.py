"""A web process starts without the libraries only a few requests need (each web process is one of many, and
the memory goal is per process): fpdf2 for PDFs (~20 MB) and zxcvbn for operator passwords (~13 MB) come with
their first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_app_starts_without_pdf_and_password_libraries(tmp_path: Path) -> None:
    code = "import sys, app; print(sorted(m for m in ('fpdf', 'zxcvbn') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "LTI_TOOL_INSTANCE_PATH": str(tmp_path),
            "LTI_TOOL_EMBEDDED_WORKER": "false",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
