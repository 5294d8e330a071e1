"""Operator-area fixtures: an operator account and a test client that signs in and posts forms with their
CSRF token, as a browser does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from lti_tool.admin.accounts import create_operator
from lti_tool.db import session_scope

USERNAME = "ops"
PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = TOKEN.search(html)
    assert found, html[:2000]
    return found.group(1)


class AdminClient:
    """The Flask test client as an operator's browser: keeps the cookie, takes the CSRF token from the page."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def token(self, page: str = "/admin/login") -> str:
        return csrf_from(self.client.get(page).text)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, page: str = "/admin/", **kwargs: Any
    ) -> Any:
        """POST with the CSRF token of `page` (an operator page; the sign-in page when signed out)."""
        form = {"csrf_token": self.token(page), **(data or {})}
        return self.client.post(path, data=form, **kwargs)

    def login(self, username: str = USERNAME, password: str = PASSWORD, **kwargs: Any) -> Any:
        return self.post(
            "/admin/login", {"username": username, "password": password}, page="/admin/login", **kwargs
        )


@pytest.fixture
def operator(app: Flask) -> str:
    with session_scope(app, write=True) as s:
        create_operator(s, USERNAME, PASSWORD)
    return USERNAME


@pytest.fixture
def anonymous(app: Flask, operator: str) -> AdminClient:
    return AdminClient(app)


@pytest.fixture
def admin(app: Flask, operator: str) -> AdminClient:
    browser = AdminClient(app)
    resp = browser.login()
    assert resp.status_code == 303, resp.text
    return browser
