"""Run the demo LMS on its own: `python -m lti_tool.demo_lms [--port 5001] [--tools tools.json]`.

Without --tools, register the tool on /admin/tools with its registration URL (dynamic registration).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import click
from werkzeug.serving import make_server

from . import close_demo_lms, create_demo_lms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lti_tool.demo_lms", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--issuer", default="", help="public base URL (default: http://localhost:PORT)")
    parser.add_argument(
        "--db", default="instance/demo-lms.sqlite", help="SQLite file for keys, tools, scores"
    )
    parser.add_argument("--tools", type=Path, help="JSON file with a list of pre-registered tools")
    parser.add_argument("--auto-activate", action="store_true", help="activate dynamically registered tools")
    parser.add_argument("--login-method", choices=("get", "post"), default="get")
    parser.add_argument(
        "--faults", action="store_true", help="enable the test-only endpoints (/api/faults ...)"
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "ISSUER": args.issuer or f"http://localhost:{args.port}",
        "STATE_DB": f"sqlite:///{db.resolve()}",
        "TOOLS": json.loads(args.tools.read_text()) if args.tools else [],
        "AUTO_ACTIVATE_DYNAMIC": args.auto_activate,
        "LOGIN_METHOD": args.login_method,
        "FAULTS_ENABLED": args.faults,
    }
    app = create_demo_lms(config)
    server = make_server(args.host, args.port, app, threaded=True)
    issuer = config["ISSUER"]
    click.echo(f"Demo-LMS läuft: {issuer}/  (Tools: {issuer}/admin/tools, Strg+C beendet)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        close_demo_lms(app)


if __name__ == "__main__":
    main()
