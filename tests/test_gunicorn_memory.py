"""config/gunicorn.conf.py's memory settings of a web worker: malloc arenas capped after the fork, and a thread that
hands freed heap pages back to the system (bench/FINDINGS.md has the measurements)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOOKS = """
import runpy, threading, time
config = runpy.run_path("config/gunicorn.conf.py")
config["post_fork"](None, None)
config["post_worker_init"](None)
print(",".join(sorted(t.name for t in threading.enumerate())))
"""


def worker_threads(**env: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", HOOKS],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")


def test_a_worker_trims_its_heap_every_30_seconds_unless_told_otherwise() -> None:
    assert worker_threads() == ["MainThread", "malloc-trim"]
    assert worker_threads(LTI_TOOL_MALLOC_TRIM_SECONDS="0") == ["MainThread"]
