"""A platform whose grade service answers whatever a test sets (tests/grading/test_hostile_platform.py,
test_token_endpoint_rest.py; the `hostile` fixture in conftest.py serves one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, Response, request

from ..peer import ServerThread

JSON = "application/json"


@dataclass
class Answer:
    body: str
    status: int = 200
    kind: str = JSON


@dataclass
class HostileLms:
    """The parts of a platform the grade worker talks to: token endpoint, line item container, scores."""

    token: Answer = field(default_factory=lambda: Answer('{"access_token": "tok-1", "expires_in": 3600}'))
    lineitems: Answer = field(default_factory=lambda: Answer("[]"))
    created: Answer | None = None  # the answer to POST lineitems (default: a line item of the platform's)
    scores: Answer = field(default_factory=lambda: Answer("", 204))
    seen: list[str] = field(default_factory=list)
    server: ServerThread | None = None

    def start(self) -> HostileLms:
        app = Flask("hostile-lms")

        def answer(a: Answer) -> Response:
            return Response(a.body, status=a.status, content_type=a.kind)

        @app.post("/token")
        def token() -> Response:
            self.seen.append("token")
            return answer(self.token)

        @app.route("/lineitems", methods=["GET", "POST"])
        def lineitems() -> Response:
            self.seen.append(f"{request.method} lineitems")
            if request.method == "GET":
                return answer(self.lineitems)
            created = self.created or Answer(f'{{"id": "{self.url}/lineitems/9/lineitem"}}', 201)
            return answer(created)

        @app.post("/lineitems/<int:item>/lineitem/scores")
        def scores(item: int) -> Response:
            self.seen.append(f"score {item}")
            return answer(self.scores)

        self.server = ServerThread(app)
        return self

    @property
    def url(self) -> str:
        assert self.server
        return self.server.url

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def lineitems_url(self) -> str:
        return self.url + "/lineitems"

    def activity_lineitem(self, activity_id: int = 1) -> str:
        return f"{self.url}/lineitems/{activity_id}/lineitem"
