"""OIDC third-party initiated login: GET and POST, strict about what it needs, no open redirect."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import requests
from flask import Flask, Request
from flask.testing import FlaskClient
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.http import dump_cookie
from werkzeug.test import EnvironBuilder
from werkzeug.urls import iri_to_uri
from werkzeug.utils import redirect as werkzeug_redirect

from lti_tool import create_app
from lti_tool.db import session_scope
from lti_tool.lti.login import (
    BROWSER_COOKIE,
    BROWSER_COOKIE_SECONDS,
    LOGIN_PARAMETERS,
    MAX_PARAMETER_LENGTH,
    browser_cookie,
    hash_browser,
    parse_urlencoded,
    posted_form,
    state_signer,
)
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import Platform
from lti_tool.urls import MAX_URL_LENGTH

from ..conftest import CLIENT_ID
from ..peer import LTI, Launcher, PeerPlatform


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_redirects_to_the_platform_with_the_oidc_parameters(launcher: Launcher, method: str) -> None:
    login = launcher.login(method=method)
    location = login.response.headers["Location"]
    assert location.startswith(launcher.peer.auth_url + "?")
    q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert q["scope"] == "openid"
    assert q["response_type"] == "id_token"
    assert q["response_mode"] == "form_post"
    assert q["prompt"] == "none"
    assert q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == launcher.launch_url
    assert q["login_hint"] == "user-1"
    assert q["lti_message_hint"] == "hint-1"
    assert len(q["state"]) >= 32 and len(q["nonce"]) >= 32
    cookie = login.response.headers["Set-Cookie"]
    assert (
        "nama_lti_browser=" in cookie
        and "Partitioned" in cookie
        and "SameSite=None" in cookie
        and "Secure" in cookie
    )


def test_login_redirect_is_urlencoded_in_the_oidc_order(launcher: Launcher) -> None:
    """The query is written by hand (no urlencode per login): exactly what urlencode writes, also for hints with
    characters that need quoting."""
    hint, message_hint = "user 1&x=ü/+%", "a b&c=d#e"
    login = launcher.login(login_hint=hint, lti_message_hint=message_hint)
    location = login.response.headers["Location"]
    expected = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": CLIENT_ID,
        "redirect_uri": launcher.launch_url,
        "login_hint": hint,
        "state": login.state,
        "nonce": login.nonce,
        "lti_message_hint": message_hint,
    }
    assert location == launcher.peer.auth_url + "?" + urlencode(expected)


def test_each_login_gets_a_fresh_state_and_nonce(launcher: Launcher) -> None:
    a, b = launcher.login(), launcher.login()
    assert a.state != b.state and a.nonce != b.nonce


def test_login_without_client_id_when_issuer_has_one_registration(launcher: Launcher) -> None:
    assert launcher.login(client_id=None).client_id == CLIENT_ID


@pytest.mark.parametrize("missing", ["iss", "login_hint", "target_link_uri"])
def test_incomplete_login(launcher: Launcher, missing: str) -> None:
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            k: v
            for k, v in {
                "iss": launcher.peer.issuer,
                "login_hint": "u",
                "target_link_uri": launcher.launch_url,
            }.items()
            if k != missing
        },
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "login_incomplete" in resp.text and missing in resp.text


def test_login_from_unknown_issuer(launcher: Launcher) -> None:
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            "iss": "https://unknown.example.org",
            "login_hint": "u",
            "target_link_uri": launcher.launch_url,
        },
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "unknown_issuer" in resp.text


def unknown_client_login(launcher: Launcher, client_id: str, language: str) -> requests.Response:
    return launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            "iss": launcher.peer.issuer,
            "client_id": client_id,
            "login_hint": "u",
            "target_link_uri": launcher.launch_url,
        },
        headers={"Accept-Language": language},
        allow_redirects=False,
    )


def test_login_with_unknown_client_id_of_a_known_issuer(app: Flask, launcher: Launcher) -> None:
    """The issuer is registered, the client_id is not (e.g. the LMS registered the tool a second time): a refusal
    of its own that names the client_id, not "platform not registered"."""
    resp = unknown_client_login(launcher, "moodle-client-7", "de")
    assert resp.status_code == 400 and resp.headers["Content-Type"].startswith("text/html")
    page = resp.text
    assert "unknown_client_id" in page and "unknown_issuer" not in page and "Fehlerkennung" in page
    assert (
        f"Die Lernplattform {launcher.peer.issuer} ist beim Tool registriert, aber nicht mit der Client-ID "
        "moodle-client-7." in page
    )
    assert "--client-id moodle-client-7" in page  # what the operator runs to accept this registration
    english = unknown_client_login(launcher, "moodle-client-7", "en").text
    assert (
        f"The learning platform {launcher.peer.issuer} is registered with the tool, but not with the client ID "
        "moodle-client-7." in english
    )
    assert "unknown_client_id" in english and "Error id" in english
    # Nothing was stored for the stranger, and the known registration still logs in.
    with session_scope(app) as s:
        assert s.scalars(select(Platform.client_id)).all() == [CLIENT_ID]
    assert launcher.login().client_id == CLIENT_ID


def test_login_with_an_unknown_client_id_escapes_it(launcher: Launcher) -> None:
    resp = unknown_client_login(launcher, '<b id="x">7</b>', "de")
    assert resp.status_code == 400 and "unknown_client_id" in resp.text
    assert '<b id="x">' not in resp.text and "&lt;b id=&#34;x&#34;&gt;7&lt;/b&gt;" in resp.text


def test_login_without_client_id_when_the_issuer_registered_the_tool_twice(
    app: Flask, launcher: Launcher
) -> None:
    with session_scope(app, write=True) as s:
        platform = s.scalars(select(Platform)).one()
        add_platform(
            s,
            PlatformSpec(
                platform.issuer,
                "second-client",
                platform.auth_login_url,
                platform.auth_token_url,
                platform.jwks_url,
                "Zweite Registrierung",
            ),
            "2",
        )
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={"iss": launcher.peer.issuer, "login_hint": "u", "target_link_uri": launcher.launch_url},
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "client_id_missing" in resp.text and "Fehlerkennung" in resp.text
    # With its client_id each registration logs in.
    assert launcher.login(client_id="second-client").client_id == "second-client"
    assert launcher.login().client_id == CLIENT_ID


def test_login_refuses_a_foreign_target_link_uri(launcher: Launcher) -> None:
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            "iss": launcher.peer.issuer,
            "login_hint": "u",
            "target_link_uri": "https://phish.example.org/",
        },
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "foreign_target_link_uri" in resp.text


@pytest.mark.parametrize(
    "target",
    ["not a url", "javascript:alert(1)", "http://[::1", "/lti/launch", "ftp://localhost/lti/launch", "port"],
)
def test_login_refuses_a_malformed_target_link_uri(launcher: Launcher, target: str) -> None:
    if target == "port":  # the tool's own host, on a port that cannot be
        parts = urlsplit(launcher.launch_url)
        target = f"{parts.scheme}://{parts.hostname}:99999{parts.path}"
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={"iss": launcher.peer.issuer, "login_hint": "u", "target_link_uri": target},
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "target_link_uri_malformed" in resp.text


def test_login_accepts_the_launch_url_with_its_default_port_written_out(launcher: Launcher) -> None:
    """The activity's address is compared with the tool's by origin: scheme, host (any case) and port."""
    parts = urlsplit(launcher.launch_url)
    port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    target = f"{parts.scheme}://{parts.hostname.upper() if parts.hostname else ''}:{port}/lti/launch?x=1"
    assert launcher.login(target_link_uri=target).response.status_code == 302


def test_a_state_compressed_as_itsdangerous_writes_it_still_launches(app: Flask, launcher: Launcher) -> None:
    """The state is signed without zlib since the login skips compressing it; a state issued before (compressed,
    itsdangerous's default) is still read."""
    login = launcher.login()
    assert not login.state.startswith(".")
    record = state_signer(app.config["SECRET_KEY"]).loads(login.state)
    compressed = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="nama-lti oidc state").dumps(record)
    assert compressed.startswith(".")  # itsdangerous compressed it
    token = launcher.peer.sign(launcher.claims(login.nonce))
    assert launcher.post_launch(token, compressed).status_code == 303


@pytest.mark.parametrize("param", ["iss", "client_id", "login_hint", "lti_deployment_id"])
def test_login_with_a_nul_character(launcher: Launcher, param: str) -> None:
    """No platform sends a NUL; PostgreSQL refuses one in the registration lookup (the login failed with a 500)."""
    params = {
        "iss": launcher.peer.issuer,
        "client_id": CLIENT_ID,
        "login_hint": "u",
        "target_link_uri": launcher.launch_url,
        "lti_deployment_id": "deployment-1",
    }
    params[param] += "\x00"
    for method in ("GET", "POST"):
        resp = launcher.browser.request(
            method,
            launcher.tool_url + "/lti/login",
            **{"params" if method == "GET" else "data": params},  # type: ignore[arg-type]
            allow_redirects=False,
        )
        assert resp.status_code == 400 and "login_malformed" in resp.text and "Fehlerkennung" in resp.text


# --- what the login reads: each parameter once, of a bounded length, as werkzeug would parse it ---------------


def _login_params(peer_issuer: str, **overrides: str) -> dict[str, str]:
    params = {
        "iss": peer_issuer,
        "login_hint": "user-1",
        "target_link_uri": "http://localhost/lti/launch",
        "lti_message_hint": "hint-1",
        "client_id": CLIENT_ID,
        "lti_deployment_id": "deployment-1",
    }
    params.update(overrides)
    return params


def _nothing_written(app: Flask) -> None:
    with session_scope(app) as s:
        assert s.scalars(select(Platform.client_id)).all() == [CLIENT_ID]


@pytest.mark.parametrize("name", sorted(LOGIN_PARAMETERS))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_refuses_a_parameter_given_twice(
    app: Flask, client: FlaskClient, registered: PeerPlatform, name: str, method: str
) -> None:
    """Which of two values would be meant? (OAuth 2.0, RFC 6749 §3.1: parameters MUST NOT be included more than
    once.) The same value twice is refused too."""
    pairs = list(_login_params(registered.issuer).items())
    pairs.append((name, dict(pairs)[name]))
    body = urlencode(pairs)
    if method == "GET":
        resp = client.get("/lti/login?" + body)
    else:
        resp = client.post("/lti/login", data=body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "login_malformed" in page and f"{name} given more than once" in page
    assert "Set-Cookie" not in resp.headers
    _nothing_written(app)


def test_login_refuses_a_parameter_given_twice_in_a_multipart_form(
    client: FlaskClient, registered: PeerPlatform
) -> None:
    data: dict[str, Any] = {**_login_params(registered.issuer), "file": (io.BytesIO(b"x"), "x.txt")}
    assert client.post("/lti/login", data=data).status_code == 302  # multipart, each once: fine
    data = {**_login_params(registered.issuer), "file": (io.BytesIO(b"x"), "x.txt")}
    data["login_hint"] = ["user-1", "user-2"]
    resp = client.post("/lti/login", data=data)
    assert resp.status_code == 400 and "login_hint given more than once" in resp.get_data(as_text=True)


def test_login_ignores_other_parameters_given_twice(client: FlaskClient, registered: PeerPlatform) -> None:
    query = urlencode([*_login_params(registered.issuer).items(), ("extra", "1"), ("extra", "2"), ("", "x")])
    resp = client.get("/lti/login?" + query)
    assert resp.status_code == 302 and resp.headers["Location"].startswith(registered.auth_url + "?")


@pytest.mark.parametrize("name", sorted(LOGIN_PARAMETERS))
def test_login_refuses_an_oversized_parameter(
    app: Flask, client: FlaskClient, registered: PeerPlatform, name: str
) -> None:
    params = _login_params(registered.issuer)
    params[name] = (params[name] + "x" * MAX_PARAMETER_LENGTH)[: MAX_PARAMETER_LENGTH + 1]
    for resp in (client.get("/lti/login", query_string=params), client.post("/lti/login", data=params)):
        assert resp.status_code == 400
        page = resp.get_data(as_text=True)
        assert "login_malformed" in page and f"{name} longer than {MAX_PARAMETER_LENGTH} characters" in page
    _nothing_written(app)


def test_login_takes_a_long_message_hint_to_the_platform(
    client: FlaskClient, registered: PeerPlatform
) -> None:
    """A platform's lti_message_hint may be a signed token of its own (Canvas: a JWT of ~1 kB)."""
    hint = "eyJ" + "a" * (MAX_PARAMETER_LENGTH - 3)
    resp = client.post("/lti/login", data=_login_params(registered.issuer, lti_message_hint=hint))
    assert resp.status_code == 302
    assert parse_qs(urlsplit(resp.headers["Location"]).query)["lti_message_hint"] == [hint]


def test_login_from_an_issuer_longer_than_any_registered_one(app: Flask, client: FlaskClient) -> None:
    resp = client.get("/lti/login", query_string=_login_params("https://lms.example.org/" + "i" * 300))
    assert resp.status_code == 400 and "unknown_issuer" in resp.get_data(as_text=True)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_refuses_parameters_that_are_not_utf8(
    client: FlaskClient, registered: PeerPlatform, method: str
) -> None:
    raw = urlencode(_login_params(registered.issuer)).encode() + b"&login_hint2=\xff\xfe"
    if method == "GET":
        resp = client.get("/lti/login", environ_overrides={"QUERY_STRING": raw.decode("latin-1")})
    else:
        resp = client.post("/lti/login", data=raw, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400
    assert "login_malformed" in resp.get_data(as_text=True) and "not in UTF-8" in resp.get_data(as_text=True)


def test_login_keeps_percent_encoded_bytes_that_are_not_utf8(
    client: FlaskClient, registered: PeerPlatform
) -> None:
    """As werkzeug reads them: the bytes stay percent-encoded (here in the login hint sent on to the platform)."""
    query = urlencode(_login_params(registered.issuer, login_hint="HINT")).replace("HINT", "a%FFb%C3%BC+c")
    resp = client.get("/lti/login?" + query)
    assert resp.status_code == 302
    assert parse_qs(urlsplit(resp.headers["Location"]).query)["login_hint"] == ["a%FFbü c"]


def test_login_post_of_another_content_type_is_incomplete(
    client: FlaskClient, registered: PeerPlatform
) -> None:
    resp = client.post(
        "/lti/login", data=urlencode(_login_params(registered.issuer)), content_type="text/plain"
    )
    assert resp.status_code == 400 and "login_incomplete" in resp.get_data(as_text=True)


def test_login_post_over_the_size_limit(app: Flask, client: FlaskClient, registered: PeerPlatform) -> None:
    params = _login_params(registered.issuer, extra="x" * int(app.config["MAX_CONTENT_LENGTH"]))
    assert client.post("/lti/login", data=params).status_code == 413


@pytest.mark.parametrize(
    "text",
    [
        "",
        "&",
        "a",
        "a=",
        "=b",
        "a=b=c",
        "a=1&&b=2&",
        "a+b=c+d",
        "a%20b=c%2Bd%26e%3D",
        "x=%zz%4&y=%",
        "x=%FF%FE&y=%C3%BC%E2%82%AC",
        "ä=ö+ü",
        "x=a;b&y=c",
        "iss=https%3A%2F%2Flms.example.org&target_link_uri=https%3A%2F%2Ftool%2Flti%2Flaunch%3Fa%3D1",
    ],
)
def test_parameters_are_parsed_as_werkzeug_parses_them(text: str) -> None:
    assert parse_urlencoded(text) == parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")


def test_parameters_are_parsed_as_werkzeug_parses_random_text() -> None:
    rng = random.Random(14)
    alphabet = "ab=&+%;2Fc3Ä€\x00 "
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert parse_urlencoded(text) == parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    long_value = "v=" + "%41" * 200 + "b" * 100  # longer than the values decoded once and kept
    assert parse_urlencoded(long_value) == [("v", "A" * 200 + "b" * 100)]


def _as_form_gives(environ: Callable[[], dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """`posted_form` of a POST, and what `request.form.items()` gives for it (each from a request of its own)."""
    werkzeug_request, request = Request(environ()), Request(environ())
    try:
        werkzeugs = {k: v for k, v in werkzeug_request.form.items() if isinstance(v, str)}
        return posted_form(request), werkzeugs
    finally:  # a multipart's files
        werkzeug_request.close()
        request.close()


def _post(body: bytes, content_type: str | None) -> Callable[[], dict[str, Any]]:
    return lambda: EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-URLencoded ;charset=utf-8",
        "text/plain",
        None,
    ],
)
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"id_token=a.b.c&state=s",
        b"id_token=first&id_token=second&state=&state=x",
        b"a+b=c+d&e%20f=%2B%26%3D&=v&k",
        b"id_token=%FF%FE&state=%C3%BC",  # escapes that are not UTF-8 stay escaped
        b"id_token=\xff&state=s",  # a body that is not UTF-8: no fields
        "state=ü€&id_token=x".encode(),
    ],
)
def test_a_posted_form_holds_what_werkzeugs_form_holds(body: bytes, content_type: str | None) -> None:
    mine, werkzeugs = _as_form_gives(_post(body, content_type))
    assert mine == werkzeugs


def test_a_posted_multipart_form_holds_what_werkzeugs_form_holds() -> None:
    def environ() -> dict[str, Any]:
        fields = {"id_token": "a.b.c", "state": "s", "file": (io.BytesIO(b"x"), "x.txt")}
        return EnvironBuilder(method="POST", data=fields).get_environ()

    mine, werkzeugs = _as_form_gives(environ)
    assert mine == werkzeugs == {"id_token": "a.b.c", "state": "s"}


def test_a_posted_form_of_random_text_holds_what_werkzeugs_form_holds() -> None:
    rng = random.Random(20)
    alphabet = ["a", "b", "=", "&", "+", "%", "%2", "F", ";", "Ä", "€", "\x00", " ", "\xff"]
    for _ in range(1000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        body = (
            text.encode("utf-8", "surrogateescape")
            if "\xff" not in text
            else text.encode("latin-1", "replace")
        )
        mine, werkzeugs = _as_form_gives(_post(body, "application/x-www-form-urlencoded"))
        assert mine == werkzeugs, body


# --- what the login answers: a URI werkzeug would send as it is, werkzeug's cookie -----------------------------


@pytest.mark.parametrize(
    "auth_login_url",
    [
        "https://lms.example.org/mod/lti/auth.php",
        "https://LMS.Example.org:8443/mod/lti/auth.php",
        "https://lms.example.org/auth?tenant=a b&x=ä",
        "https://lms.example.org/auth?",
        "https://bücher.example/aüth",
        "https://lms.example.org/auth#frag",
        "http://[::1]:8080/auth",
        "https://lms.example.org/a%20b/auth?c=%41",
    ],
)
def test_login_location_is_what_werkzeug_would_send(
    app: Flask, client: FlaskClient, auth_login_url: str
) -> None:
    """The Location is marked as a URI (werkzeug's iri_to_uri is not run on it): it is what iri_to_uri makes of
    the platform's login URL with the query appended, also when that URL is an IRI."""
    spec = PlatformSpec(
        "https://lms.example.org",
        "c-1",
        auth_login_url,
        "https://lms.example.org/t",
        "https://lms.example.org/k",
        "LMS",
    )
    with session_scope(app, write=True) as s:
        add_platform(s, spec, "d-1")
    hint = "user 1&x=ü/+%"
    resp = client.post(
        "/lti/login",
        data={
            "iss": "https://lms.example.org",
            "client_id": "c-1",
            "login_hint": hint,
            "target_link_uri": "http://localhost/lti/launch",
            "lti_message_hint": "a b#c",
        },
    )
    assert resp.status_code == 302
    location = resp.headers["Location"]
    query = {
        k: v[0]
        for k, v in parse_qs(
            urlsplit(location).query
            if "#" not in auth_login_url
            else location.split("#", 1)[1].split("?", 1)[1]
        ).items()
    }
    expected = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": "c-1",
        "redirect_uri": "http://localhost/lti/launch",
        "login_hint": hint,
        "state": query["state"],
        "nonce": query["nonce"],
        "lti_message_hint": "a b#c",
    }
    sep = "&" if "?" in auth_login_url else "?"
    assert location == iri_to_uri(auth_login_url + sep + urlencode(expected))
    assert iri_to_uri(location) == location
    # werkzeug's redirect page, with the link
    assert resp.get_data() == werkzeug_redirect(location, 302).get_data()
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("now", [0.0, 1_700_000_000.0, 1_700_000_000.999, 1_999_999_999.5])
def test_browser_cookie_is_what_werkzeug_writes(now: float) -> None:
    value = "AN7_PuTmhOXZXb9f1-LQ6tIplJaMeQut"
    expected = dump_cookie(
        BROWSER_COOKIE,
        value,
        max_age=BROWSER_COOKIE_SECONDS,
        expires=now + BROWSER_COOKIE_SECONDS,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
        path="/lti/",
    )
    assert browser_cookie(value, now) == expected
    assert browser_cookie(value, now + 1) != expected  # the date is not kept longer than its second


def test_the_state_is_itsdangerous_own(app: Flask) -> None:
    """The state signed here is what itsdangerous's own serializer reads (and the other way round); a changed
    state or one signed with another secret is refused."""
    secret = app.config["SECRET_KEY"]
    record = {"nonce": "n", "iss": "https://lms.example.org", "browser": "ü"}
    stock = URLSafeTimedSerializer(secret, salt="nama-lti oidc state")
    ours = state_signer(secret).dumps(record)
    assert stock.loads(ours) == record
    assert state_signer(secret).loads(stock.dumps(record)) == record
    payload, stamp, signature = ours.split(".")
    with pytest.raises(BadSignature):
        state_signer(secret).loads(f"{payload}x.{stamp}.{signature}")
    with pytest.raises(BadSignature):
        state_signer(secret + "-other").loads(ours)


@pytest.mark.parametrize(
    ("cookie", "kept"),
    [
        ("", False),
        ("MoodleSession=abc; other=1", False),
        ("xnama_lti_browser=abc", False),
        ("nama_lti_browser_old=abc", False),
        ("a=1; nama_lti_browser=Kept_Value-123; b=2", True),
    ],
)
def test_login_reads_the_browser_cookie_where_the_header_has_it(
    app: Flask, registered: PeerPlatform, cookie: str, kept: bool
) -> None:
    resp = app.test_client(use_cookies=False).get(
        "/lti/login",
        query_string=_login_params(registered.issuer),
        headers={"Cookie": cookie} if cookie else {},
    )
    assert resp.status_code == 302
    state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    record = state_signer(app.config["SECRET_KEY"]).loads(state)
    if kept:
        assert "Set-Cookie" not in resp.headers
        assert record["browser"] == hash_browser("Kept_Value-123")
    else:
        new = resp.headers["Set-Cookie"].split(";")[0].removeprefix(BROWSER_COOKIE + "=")
        assert record["browser"] == hash_browser(new) and len(new) == 32


def test_login_redirect_uri_on_the_base_url_and_each_proxy_prefix(
    test_config: dict[str, Any], peer: PeerPlatform
) -> None:
    """On BASE_URL the launch URL is worked out once per prefix the proxy gives (X-Forwarded-Prefix)."""
    tool = create_app({**test_config, "BASE_URL": "https://tool.example.org", "PROXY_FIX": 1})
    try:
        spec = PlatformSpec(peer.issuer, CLIENT_ID, peer.auth_url, peer.token_url, peer.jwks_url, "Peer")
        with session_scope(tool, write=True) as s:
            add_platform(s, spec, "d-1")
        client = tool.test_client()
        for prefix in ("", "/a", "/b", "/a", ""):
            resp = client.get(
                "/lti/login",
                query_string=_login_params(peer.issuer, target_link_uri="https://tool.example.org/x"),
                headers={"X-Forwarded-Prefix": prefix} if prefix else {},
            )
            assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
            redirect_uri = parse_qs(urlsplit(resp.headers["Location"]).query)["redirect_uri"][0]
            assert redirect_uri == f"https://tool.example.org{prefix}/lti/launch"
    finally:
        tool.extensions["nama_db"].dispose()


def test_the_longest_activity_address_the_login_accepts_also_launches(launcher: Launcher) -> None:
    """The login accepts a target_link_uri up to urls.MAX_URL_LENGTH; the state it signs carries it, so the launch
    must accept a state that long too (it refused states over 1,000 characters: a login of a target over ~500
    characters led to a launch refused as `state_malformed`)."""
    target = launcher.launch_url + "?activity="
    target += "x" * (MAX_URL_LENGTH - len(target))
    assert len(target) == MAX_URL_LENGTH
    login = launcher.login(target_link_uri=target)
    assert len(login.state) > MAX_URL_LENGTH  # the state carries the address
    token = launcher.peer.sign(launcher.claims(login.nonce, **{LTI + "target_link_uri": target}))
    resp = launcher.post_launch(token, login.state)
    assert resp.status_code == 303, resp.text[:500]
    # One character more is refused by the login already (not after the learner went through the platform).
    too_long = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={"iss": launcher.peer.issuer, "login_hint": "u", "target_link_uri": target + "x"},
        allow_redirects=False,
    )
    assert too_long.status_code == 400, too_long.text[:300]
    # An address within the length whose state would be longer than the launch takes (four bytes per character)
    # is refused by the login too.
    wide = launcher.launch_url + "?activity="
    wide += "\U0001f333" * (MAX_URL_LENGTH - len(wide))
    refused = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={"iss": launcher.peer.issuer, "login_hint": "u", "target_link_uri": wide},
        allow_redirects=False,
    )
    assert refused.status_code == 400 and "login_malformed" in refused.text, refused.text[:300]
