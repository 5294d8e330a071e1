"""The deployment recipes in deploy/: the systemd units pass `systemd-analyze verify` (no warning either) and are
sandboxed; the nginx example is valid, and in front of a running tool it terminates TLS, passes X-Forwarded-*
(the tool builds https URLs for the public host), refuses bodies above the tool's own limit, keeps session tokens
and registration tokens out of its access log and hides /metrics. Each check runs where its program exists."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import Flask

from lti_tool import create_app

from .peer import ServerThread
from .test_gunicorn import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ["nama-lti-web.service", "nama-lti-grades@.service"]
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _units_here(tmp_path: Path) -> list[Path]:
    """The units with the checkout's and the environment file's paths pointing at this machine."""
    env = tmp_path / "nama-lti.env"
    env.write_text("LTI_TOOL_DATABASE_URL=postgresql+psycopg://nama@127.0.0.1/nama_lti\n")
    paths = []
    for name in UNITS:
        text = (DEPLOY / "systemd" / name).read_text()
        text = text.replace("/opt/nama-lti", str(ROOT)).replace("/etc/nama-lti/nama-lti.env", str(env))
        path = tmp_path / name.replace("@.", "@9301.")  # a template is verified as an instance
        path.write_text(text)
        paths.append(path)
    return paths


def _verify(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, paths)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.skipif(not SYSTEMD_ANALYZE, reason="systemd-analyze is not installed")
def test_systemd_units_verify_without_a_warning(tmp_path: Path) -> None:
    paths = _units_here(tmp_path)
    result = _verify(paths)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", result.stderr
    # The check means something: a misspelt option is reported.
    typo = tmp_path / "typo.service"
    typo.write_text(paths[0].read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    assert "Unknown key" in _verify([typo]).stderr


@pytest.mark.skipif(not SYSTEMD_ANALYZE, reason="systemd-analyze is not installed")
def test_systemd_units_are_sandboxed(tmp_path: Path) -> None:
    for path in _units_here(tmp_path):
        result = subprocess.run(
            [str(SYSTEMD_ANALYZE), "security", "--offline=yes", "--no-pager", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout + result.stderr)
        assert match, result.stdout + result.stderr
        # 0 = fully sandboxed, 10 = not at all; systemd calls up to 2 "OK" (a plain unit scores about 9.6).
        assert float(match.group(1)) <= 2.0, (path.name, match.group(1))


def test_nginx_body_limit_is_the_tools(app: Flask) -> None:
    text = (DEPLOY / "nginx" / "nama-lti.conf").read_text()
    [limit] = re.findall(r"^\s*client_max_body_size (\d+)k;", text, re.M)
    assert int(limit) * 1024 == app.config["MAX_CONTENT_LENGTH"]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lti.example.org")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("lti.example.org"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _nginx_config(tmp_path: Path, upstream_port: int, http_port: int, https_port: int) -> Path:
    cert, key = _self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "nama-lti.conf").read_text()
    site = (
        site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
        .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
        .replace("/etc/letsencrypt/live/lti.example.org/fullchain.pem", str(cert))
        .replace("/etc/letsencrypt/live/lti.example.org/privkey.pem", str(key))
        .replace("/var/log/nginx/", f"{tmp_path}/")
        .replace("/opt/nama-lti", str(ROOT))
    )
    site = re.sub(r"^\s*listen \[::\].*$", "", site, flags=re.M)  # no IPv6 needed on loopback
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/site.conf;
}}
"""
    )
    return main


@pytest.fixture
def proxied(test_config: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The tool (LTI_TOOL_PROXY_FIX=1) behind nginx with the example configuration, on loopback ports."""
    if not NGINX:
        pytest.skip("nginx is not installed")
    application = create_app({**test_config, "PROXY_FIX": 1})
    server = ServerThread(application)
    http_port, https_port = free_port(), free_port()
    config = _nginx_config(tmp_path, server.port, http_port, https_port)
    checked = subprocess.run([NGINX, "-t", "-c", str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([NGINX, "-c", str(config), "-g", "daemon off;"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(f"http://127.0.0.1:{http_port}/", timeout=1, allow_redirects=False)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield {
            "http": f"http://127.0.0.1:{http_port}",
            "https": f"https://127.0.0.1:{https_port}",
            "port": https_port,
            "verify": str(tmp_path / "cert.pem"),
            "log": tmp_path / "nama-lti.access.log",
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        server.stop()
        application.extensions["nama_db"].dispose()


def test_nginx_in_front_of_the_tool(proxied: dict[str, Any]) -> None:
    host = {"Host": "lti.example.org"}

    def get(path: str, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.get(
            proxied["https"] + path, headers={**host, **(headers or {})}, verify=proxied["verify"], timeout=10
        )

    # Plain http is sent to https.
    plain = requests.get(proxied["http"] + "/lti/config", headers=host, allow_redirects=False, timeout=10)
    assert plain.status_code == 301 and plain.headers["Location"] == "https://lti.example.org/lti/config"
    # X-Forwarded-Proto/-Host/-Port reach the tool: the registration values are the public https URLs.
    config = get("/lti/config", headers={"Accept": "application/json"})
    assert config.status_code == 200, config.text[:300]
    public = f"https://lti.example.org:{proxied['port']}"
    assert public + "/lti/login" in config.text and "http://" not in config.text.replace("http://purl", "")
    assert config.headers["Strict-Transport-Security"].startswith("max-age=")
    # The tool's own body limit, enforced by nginx already.
    too_big = requests.post(
        proxied["https"] + "/lti/launch",
        headers=host,
        data={"id_token": "x" * (256 * 1024)},
        verify=proxied["verify"],
        timeout=10,
    )
    assert too_big.status_code == 413
    # Metrics are not published to the internet.
    assert get("/metrics").status_code == 404
    # No session token and no registration token in the access log.
    assert get("/s/Zm9vYmFyc2Vzc2lvbnRva2Vu/kurs/").status_code < 500
    assert get("/lti/register?t=registration-secret-123").status_code < 500
    time.sleep(0.2)
    log = proxied["log"].read_text()
    assert "/s/-/kurs/" in log and "Zm9vYmFyc2Vzc2lvbnRva2Vu" not in log
    assert "/lti/register" in log and "registration-secret-123" not in log
