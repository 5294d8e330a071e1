"""Operator-area fixtures: an operator account and a test client that signs in and posts forms with their
CSRF token, as a browser does."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from lti_tool.admin.accounts import create_operator
from lti_tool.db import session_scope

from ..forms import csrf_token, form_token

USERNAME = "ops"
PASSWORD = "correct horse battery staple"


class AdminClient:
    """The Flask test client as an operator's browser: keeps the cookie, takes the CSRF token from the page."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def session_cookie(self) -> str:
        cookie = self.client.get_cookie("nama_lti_admin", path="/admin")
        assert cookie is not None, "not signed in"
        return cookie.value

    def token(self, page: str = "/admin/login") -> str:
        return csrf_token(self.client.get(page).text)

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        page: str = "/admin/",
        any_token: bool = False,
        **kwargs: Any,
    ) -> Any:
        """POST as the form on `page` that posts to `path` would, with that form's CSRF token.

        any_token: there is no such form (a request made up by the test); take any token on the page.
        """
        html = self.client.get(page).text
        token = form_token(html, path)
        if token is None:
            assert any_token, f"no form on {page} posts to {path} with a CSRF token"
            token = csrf_token(html)
        return self.client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)

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
