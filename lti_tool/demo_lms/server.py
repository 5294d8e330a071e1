"""Serve a WSGI app on a real socket in a daemon thread (tests and the quickstart).

Threaded, so the demo LMS can answer a tool that calls back while one of its own requests waits, as
Moodle does when it fetches the tool's JWKS during a token request.
"""

from __future__ import annotations

import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server


class RunningServer:
    """A started server: `url`, `port`, `stop()`; usable as a context manager."""

    def __init__(self, server: BaseWSGIServer, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port: int = server.server_port
        self.url = f"http://{host}:{self.port}"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start `app` on host:port (0 = any free port) and return at once; the socket is already listening."""
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},  # stop() returns within ~20 ms
        name=f"wsgi-{host}:{server.server_port}",
        daemon=True,
    )
    thread.start()
    return RunningServer(server, thread, host)
