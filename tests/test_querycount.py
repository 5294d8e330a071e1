"""The benchmark's SQL statement counter and CPU time: response headers only when asked for, never in production."""

from __future__ import annotations

from typing import Any

import pytest

from lti_tool import create_app


def test_no_header_by_default(client: Any) -> None:
    headers = client.get("/healthz").headers
    assert "X-Query-Count" not in headers and "X-CPU-Us" not in headers


def test_header_when_enabled(test_config: dict[str, Any]) -> None:
    app = create_app({**test_config, "BENCH_COUNT_QUERIES": True, "ENV": "development"})
    try:
        resp = app.test_client().get("/healthz")
        assert int(resp.headers["X-Query-Count"]) >= 1
        assert 0 < int(resp.headers["X-CPU-Us"]) < 5_000_000  # this thread's CPU time for the request
    finally:
        app.extensions["nama_db"].dispose()


def test_refused_in_production(test_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="BENCH_COUNT_QUERIES"):
        create_app({**test_config, "BENCH_COUNT_QUERIES": True, "ENV": "production"})
