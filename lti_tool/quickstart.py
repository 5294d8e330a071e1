"""Try the tool with one command (`scripts/start`): SQLite, keys, the course, and the built-in demo LMS.

The demo LMS runs as its own platform on http://localhost:5001 and the tool on http://127.0.0.1:5000: two
different sites, so the tool sits in the LMS page's iframe exactly as it does in Moodle (third-party context).
Both are registered with each other on start; everything is kept in the instance folder.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from werkzeug.serving import make_server

from . import create_app, logconfig
from .admin.accounts import count_operators
from .db import session_scope
from .lti.platforms import PlatformSpec, add_platform
from .lti.toolinfo import SCOPES

CLIENT_ID = "nama-demo-tool"
DEPLOYMENT_ID = "1"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def demo_tool_entry(tool_url: str) -> dict[str, Any]:
    """How the demo LMS knows the tool (what an LMS admin enters in Moodle's manual tool form)."""
    return {
        "client_id": CLIENT_ID,
        "deployment_id": DEPLOYMENT_ID,
        "name": "NaMa NRW Grundlagenkurs",
        "login_url": tool_url + "/lti/login",
        "redirect_uris": [tool_url + "/lti/launch"],
        "target_link_uri": tool_url + "/lti/launch",
        "deep_link_url": tool_url + "/lti/launch",
        "jwks_url": tool_url + "/.well-known/jwks.json",
        "scopes": list(SCOPES),
        "custom": {"course": "grundlagenkurs"},
    }


def banner(app: Flask, lms_url: str, tool_url: str, *, custom_instance: bool) -> str:
    """What the console shows once everything listens: where to go, in German and English."""
    with session_scope(app) as s:
        operators = count_operators(s)
    env = f"LTI_TOOL_INSTANCE_PATH={shlex.quote(app.instance_path)} " if custom_instance else ""
    first_operator = (
        ""
        if operators
        else f"    Erstes Konto / first account:           {env}scripts/flask admin create-user NAME\n"
    )
    return (
        "\n"
        "  nama-lti läuft / is running\n"
        f"  ▶ Demo-LMS (hier starten / start here):  {lms_url}/\n"
        f"    Tool:                                   {tool_url}/\n"
        f"    Betreiberbereich / operator area:       {tool_url}/admin/\n"
        f"{first_operator}"
        f"    Daten, Protokoll / data, log:           {app.instance_path} (quickstart.log)\n"
        "  Strg+C beendet / Ctrl-C stops.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/start", description=__doc__)
    parser.add_argument("--tool-port", type=int, default=5000)
    parser.add_argument("--lms-port", type=int, default=5001)
    parser.add_argument("--instance", default="", help="instance folder (default: ./instance)")
    args = parser.parse_args(argv)

    for port in (args.tool_port, args.lms_port):
        if not _port_free("127.0.0.1", port):
            click.echo(
                f"Port {port} is in use. Stop what runs there or choose other ports: scripts/start --tool-port 5100 --lms-port 5101",
                err=True,
            )
            return 1

    tool_url = f"http://127.0.0.1:{args.tool_port}"
    lms_url = f"http://localhost:{args.lms_port}"
    config: dict[str, Any] = {
        "ENV": "development",
        "DEMO_LMS": True,
        "DEMO_LMS_URL": lms_url + "/",
        "BASE_URL": tool_url,
        "LOG_LEVEL": "WARNING",  # while starting; then see logconfig.to_file below
    }
    if args.instance:
        config["INSTANCE_PATH"] = str(Path(args.instance).resolve())
    app = create_app(config)
    # The console shows warnings and errors only, so the banner below stays the last thing on it; everything
    # else (requests included, without their tokens) goes to quickstart.log in the instance folder.
    log_file = Path(app.instance_path) / "quickstart.log"
    logconfig.to_file(str(log_file))
    with session_scope(app, write=True) as s:
        add_platform(
            s,
            PlatformSpec(
                issuer=lms_url,
                client_id=CLIENT_ID,
                auth_login_url=lms_url + "/auth",
                auth_token_url=lms_url + "/token",
                jwks_url=lms_url + "/jwks",
                name="NaMa Demo-LMS",
            ),
            DEPLOYMENT_ID,
            via="demo",
        )

    from .demo_lms import close_demo_lms, create_demo_lms, serve_in_thread

    lms = create_demo_lms(
        {
            "ISSUER": lms_url,
            "STATE_DB": f"sqlite:///{Path(app.instance_path) / 'demo-lms.sqlite'}",
            "TOOLS": [demo_tool_entry(tool_url)],
        }
    )
    lms_server = serve_in_thread(lms, host="127.0.0.1", port=args.lms_port)
    tool_server = make_server("127.0.0.1", args.tool_port, app, threaded=True)
    click.echo(banner(app, lms_url, tool_url, custom_instance=bool(args.instance)))
    try:
        tool_server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        tool_server.server_close()
        lms_server.stop()
        close_demo_lms(lms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
