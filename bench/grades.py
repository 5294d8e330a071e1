"""Grade passback benchmark: N learners' grades through the outbox to a loopback AGS platform, with 1, 2 and
4 worker processes (`flask --app app grades worker`) on PostgreSQL; and the pylti1p3 peer measured the way
it can be (it posts each score inline, in the request that asks for it).

    .venv/bin/python bench/grades.py [--learners 1000] [--workers 1,2,4] [--peer fast|demo] [--pylti1p3 100]

Per run: a fresh PostgreSQL database (dropped afterwards), the tool app serving its JWKS on loopback, the
platform in its own process (`--peer fast`: bench/ags_peer.py; `--peer demo`: the demo LMS), the worker
processes started and waiting, then the learners' progress committed in transactions of 20 learners (each
learner: the course result and one module result = 2 rows, the module's line item found or created once).
Prints scores delivered per second (first commit -> last delivery), token requests, and the outbox lag
(commit -> delivery) p50/p95/max, and checks that the platform holds exactly the newest score per row target.
Not a test: numbers depend on the machine and on what else runs on it (the load average is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import psycopg
import requests
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool import create_app  # noqa: E402
from lti_tool.course.catalog import get_catalog  # noqa: E402
from lti_tool.db import session_scope, upgrade  # noqa: E402
from lti_tool.grading import enqueue_grades  # noqa: E402
from lti_tool.grading.outbox import WAKE_CHANNEL  # noqa: E402
from lti_tool.lti import keys  # noqa: E402
from lti_tool.lti.platforms import PlatformSpec, add_platform  # noqa: E402
from lti_tool.models import (  # noqa: E402
    Context,
    GradeOutbox,
    LinkLaunch,
    Membership,
    ModuleProgress,
    ResourceLink,
    User,
    WorkerHeartbeat,
)

CLIENT_ID = "nama-bench"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPES = [AGS + "lineitem", AGS + "lineitem.readonly", AGS + "result.readonly", AGS + "score"]
COURSE = "grundlagenkurs"
CHUNK = 20  # learners per committed transaction
DEFAULT_PEERS = Path.home() / ".cache" / "lti-peers" / "pylti1p3_minimal"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    url = make_url(admin_url)
    name = f"nama_bench_grades_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Served:
    """A WSGI app on loopback in a thread (the tool's JWKS for the platform's token checks)."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


@dataclass
class Platform:
    kind: str
    url: str
    proc: subprocess.Popen[bytes]
    course_lineitem: str
    lineitems_url: str
    token_url: str

    def stats(self) -> dict[str, int]:
        if self.kind == "fast":
            raw: dict[str, int] = requests.get(self.url + "/stats", timeout=10).json()
            out: dict[str, int] = {}
            for key, n in raw.items():
                name, status = key.split(":")
                out[name] = out.get(name, 0) + n
                out[key] = n
            return out
        stats = requests.get(self.url + "/api/stats", timeout=10).json()
        out = {
            name: int(stats.get(name, 0)) for name in ("token_requests", "score_posts", "lineitem_requests")
        }
        for name, by_status in stats["by_status"].items():
            for status, n in by_status.items():
                out[f"{name}:{status}"] = n
        return out

    def held(self) -> dict[tuple[str, str], str]:
        """(line item, user) -> timestamp of the stored score."""
        if self.kind == "fast":
            rows = requests.get(self.url + "/scores", timeout=30).json()
            return {(f"{self.url}/lineitems/{r['item']}/lineitem", r["userId"]): r["timestamp"] for r in rows}
        rows = requests.get(self.url + "/api/scores", timeout=60).json()
        return {(r["line_item_url"], r["user_id"]): r["timestamp"] for r in rows}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_platform(
    kind: str, tool_url: str, learners: int, tools: list[dict[str, Any]] | None = None
) -> Platform:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    jwks = tool_url + "/.well-known/jwks.json"
    if kind == "fast":
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "ags_peer.py"),
            "--port",
            str(port),
            "--client-id",
            CLIENT_ID,
            "--tool-jwks",
            jwks,
        ]
        proc = subprocess.Popen(cmd, cwd=ROOT)
        wait_http(url + "/stats")
        return Platform(kind, url, proc, f"{url}/lineitems/1/lineitem", f"{url}/lineitems", f"{url}/token")
    spec = {"port": port, "learners": learners, "tools": tools or [our_tool(tool_url)]}
    proc = subprocess.Popen([sys.executable, __file__, "--serve-demo-lms", json.dumps(spec)], cwd=ROOT)
    wait_http(url + "/api/stats")
    base = f"{url}/mod/lti/services.php/demo-course-1"
    return Platform(
        kind,
        url,
        proc,
        f"{base}/lineitems/1/lineitem?type_id=1",
        f"{base}/lineitems?type_id=1",
        f"{url}/mod/lti/token.php",
    )


def our_tool(tool_url: str) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "deployment_id": "1",
        "login_url": tool_url + "/lti/login",
        "redirect_uris": [tool_url + "/lti/launch"],
        "jwks_url": tool_url + "/.well-known/jwks.json",
        "scopes": SCOPES,
    }


def serve_demo_lms(spec_json: str) -> None:
    """Child process: the demo LMS with `learners` extra enrolled learners (ids 1000...)."""
    import logging

    from lti_tool.demo_lms import create_demo_lms
    from lti_tool.demo_lms.state import EXTENSION
    from lti_tool.demo_lms.storage import User as LmsUser

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    spec = json.loads(spec_json)
    app = create_demo_lms(
        {"TOOLS": spec["tools"], "FAULTS_ENABLED": True, "ISSUER": f"http://127.0.0.1:{spec['port']}"}
    )
    with app.extensions[EXTENSION].store.tx() as session:
        for n in range(spec["learners"]):
            uid = str(1000 + n)
            session.add(
                LmsUser(
                    id=uid,
                    username=f"l{uid}",
                    full_name=f"Lernende {uid}",
                    given_name="L",
                    family_name=uid,
                    email=f"l{uid}@example.org",
                    course_role="Learner",
                )
            )
    make_server("127.0.0.1", spec["port"], app, threaded=True).serve_forever()


# --- the tool side ------------------------------------------------------------------------------------


def content_dir() -> Path:
    """The shipped course when it is there (content branch), else the tests' two-module course."""
    shipped = ROOT / "content"
    return shipped if (shipped / COURSE).is_dir() else ROOT / "tests" / "fixtures" / "content"


def tool_app(database_url: str, instance: Path, redis_url: str) -> Any:
    config: dict[str, Any] = {
        "CONTENT_DIR": str(content_dir()),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "INSTANCE_PATH": str(instance),
        "EMBEDDED_WORKER": False,
    }
    if redis_url:
        config.update(REDIS_URL=redis_url, REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}:")
    return create_app(config)


def set_up_course(app: Any, platform: Platform, learners: int) -> tuple[int, list[int]]:
    with session_scope(app, write=True) as s:
        keys.ensure_keys(s, app)
        spec = PlatformSpec(
            platform.url,
            CLIENT_ID,
            platform.url + "/auth",
            platform.token_url,
            platform.url + "/jwks",
            "bench",
        )
        db_platform, deployment = add_platform(s, spec, "1")
        context = Context(
            deployment_id=deployment.id,
            context_id="demo-course-1",
            lineitems_url=platform.lineitems_url,
            ags_scopes=SCOPES,
        )
        s.add(context)
        s.flush()
        link = ResourceLink(
            deployment_id=deployment.id,
            context_id=context.id,
            resource_link_id="1",
            course_id=COURSE,
            lineitem_url=platform.course_lineitem,
        )
        s.add(link)
        s.flush()
        subs = [str(1000 + n) for n in range(learners)]
        s.execute(insert(User), [{"platform_id": db_platform.id, "sub": sub} for sub in subs])
        ids = list(s.scalars(select(User.id).where(User.sub.in_(subs)).order_by(User.id)))
        s.execute(
            insert(Membership), [{"user_id": i, "context_id": context.id, "roles": ["Learner"]} for i in ids]
        )
        s.execute(insert(LinkLaunch), [{"resource_link_id": link.id, "user_id": i} for i in ids])
        return context.id, ids


def commit_grades(
    app: Any, context_id: int, users: list[int], rate: float, chunk: int = CHUNK
) -> dict[int, float]:
    """Record a quiz result for every learner (2 outbox rows each), `chunk` learners per transaction."""
    course = get_catalog(app).get(COURSE)
    assert course is not None
    module = course.modules[0].id
    committed: dict[int, float] = {}
    started = time.monotonic()
    for start in range(0, len(users), chunk):
        group = users[start : start + chunk]
        with session_scope(app, write=True) as s:
            s.execute(
                insert(ModuleProgress),
                [
                    {
                        "user_id": u,
                        "context_id": context_id,
                        "course_id": COURSE,
                        "module_id": module,
                        "lessons_seen": 3,
                        "attempts": 1,
                        "best_score": 0.8,
                    }
                    for u in group
                ],
            )
            rows = []
            for user in group:
                rows += enqueue_grades(
                    s, user_id=user, context_id=context_id, course=course, changed_module_ids=[module]
                )
            ids = [r.id for r in rows]
        now = time.time()
        committed.update(dict.fromkeys(ids, now))
        if rate:
            ahead = (len(committed) / rate) - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    return committed


def start_workers(
    app: Any, database_url: str, count: int, threads: int, redis_url: str, prefix: str, tmp: Path
) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env.update(
        {
            "LTI_TOOL_DATABASE_URL": database_url,
            "LTI_TOOL_SECRET_KEY": app.config["SECRET_KEY"],
            "LTI_TOOL_EMBEDDED_WORKER": "false",
            "LTI_TOOL_INSTANCE_PATH": str(tmp / "workers"),
            "LTI_TOOL_CONTENT_DIR": app.config["CONTENT_DIR"],
        }
    )
    if redis_url:
        env.update(LTI_TOOL_REDIS_URL=redis_url, LTI_TOOL_REDIS_PREFIX=prefix)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "app",
                "grades",
                "worker",
                "--concurrency",
                str(threads),
            ],
            cwd=ROOT,
            env=env,
            stdout=(tmp / f"worker-{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(count)
    ]
    deadline = time.monotonic() + 60
    while True:
        with session_scope(app) as s:
            alive = s.scalar(select(func.count()).select_from(WorkerHeartbeat)) or 0
        if alive >= count * threads:
            return procs
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start; see " + str(tmp))
        time.sleep(0.1)


def waiting(app: Any) -> int:
    with session_scope(app) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(GradeOutbox)
                .where(GradeOutbox.state.in_(["pending", "sending"]))
            )
            or 0
        )


@dataclass
class Result:
    workers: int
    rows: int
    seconds: float
    per_second: float
    lag_rows: int
    lag_p50: float
    lag_p95: float
    lag_max: float
    cpu_ms_worker: float
    cpu_ms_platform: float
    tokens: int
    posts: str
    verified: str
    load: str


def hold_backlog(app: Any, *, release: bool) -> float:
    """Keep the queued rows from the workers while they start, or let them all go at once (NOTIFY)."""
    with session_scope(app, write=True) as s:
        due = func.now() if release else func.now() + text("interval '1 day'")
        s.execute(update(GradeOutbox).values(next_attempt_at=due))
        if release:
            s.execute(text(f"NOTIFY {WAKE_CHANNEL}"))
    return time.time()


def wait_delivered(app: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while waiting(app):
        if time.monotonic() > deadline:
            raise SystemExit("not all grades were delivered in time")
        time.sleep(0.02)


def run(args: argparse.Namespace, workers: int) -> Result:
    """Phase 1, throughput: the backlog of all learners' rows, let go at once to the waiting workers.
    Phase 2, lag: more learners' rows committed at --lag-rate rows/s while the workers run."""
    with fresh_database(args.database_url) as url, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        upgrade(url)
        app = tool_app(url, tmp / "instance", args.redis_url)
        served = Served(app)
        platform = start_platform(args.peer, served.url, args.learners + args.lag_learners)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            context_id, users = set_up_course(app, platform, args.learners + args.lag_learners)
            backlog, live = users[: args.learners], users[args.learners :]
            commit_grades(app, context_id, backlog, 0)
            hold_backlog(app, release=False)
            procs = start_workers(
                app, url, workers, args.threads, args.redis_url, app.config.get("REDIS_PREFIX", ""), tmp
            )
            worker_pids = [proc.pid for proc in procs]
            cpu_before = cpu_seconds(worker_pids), cpu_seconds([platform.proc.pid])
            released = hold_backlog(app, release=True)
            wait_delivered(app, args.timeout)
            cpu_workers = cpu_seconds(worker_pids) - cpu_before[0]
            cpu_platform = cpu_seconds([platform.proc.pid]) - cpu_before[1]
            with session_scope(app) as s:
                last = s.scalar(select(func.max(GradeOutbox.sent_at)))
            assert last is not None
            seconds = last.timestamp() - released

            committed = commit_grades(
                app, context_id, live, args.lag_rate, chunk=1
            )  # one learner per request
            wait_delivered(app, args.timeout)
            load = os.getloadavg()
            with session_scope(app) as s:
                rows = s.execute(
                    select(
                        GradeOutbox.id,
                        GradeOutbox.sent_at,
                        GradeOutbox.state,
                        GradeOutbox.lineitem_url,
                        User.sub,
                        GradeOutbox.score_timestamp,
                    ).join(User, User.id == GradeOutbox.user_id)
                ).all()
            lags = [row.sent_at.timestamp() - committed[row.id] for row in rows if row.id in committed]
            stats = platform.stats()
            expected = {(row.lineitem_url, row.sub): row.score_timestamp for row in rows}
            ok = platform.held() == expected and {r.state for r in rows} == {"sent"}
            posts = ", ".join(
                f"{k.split(':')[1]}: {v}" for k, v in sorted(stats.items()) if k.startswith("score_posts:")
            )
            backlog_rows = len(rows) - len(lags)
            return Result(
                workers=workers,
                rows=backlog_rows,
                seconds=seconds,
                per_second=backlog_rows / seconds,
                lag_rows=len(lags),
                lag_p50=statistics.median(lags) if lags else 0.0,
                lag_p95=percentile(lags, 95) if lags else 0.0,
                lag_max=max(lags) if lags else 0.0,
                cpu_ms_worker=1000 * cpu_workers / backlog_rows,
                cpu_ms_platform=1000 * cpu_platform / backlog_rows,
                tokens=stats.get("token_requests", 0),
                posts=posts,
                verified="ok" if ok else "MISMATCH",
                load=" ".join(f"{x:.1f}" for x in load),
            )
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            platform.stop()
            served.stop()
            app.extensions["nama_db"].dispose()


# --- the pylti1p3 peer -----------------------------------------------------------------------------------


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")


def pylti1p3(args: argparse.Namespace) -> None:
    """Launch the pylti1p3 peer once per learner from the demo LMS, then ask it for one score per learner."""
    peer_dir = Path(args.pylti1p3_dir)
    python = peer_dir / ".venv" / "bin" / "python"
    if not python.exists():
        print(f"pylti1p3 peer not installed at {peer_dir} (run ../shared/peers/up.sh pylti1p3 once)")
        return
    peer_port = free_port()
    peer_url = f"http://127.0.0.1:{peer_port}"
    tool = {
        "client_id": "peer-pylti1p3-client",
        "deployment_id": "deploy-1",
        "login_url": peer_url + "/login",
        "redirect_uris": [peer_url + "/launch"],
        "target_link_uri": peer_url + "/launch",
        "jwks_url": peer_url + "/jwks",
        "scopes": SCOPES,
    }
    lms = start_platform("demo", "http://unused", args.pylti1p3, tools=[tool])
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ)
        env.update(
            PEER_PORT=str(peer_port),
            PEER_STATE_DIR=state,
            PEER_PLATFORM_ISSUER=lms.url,
            PEER_PLATFORM_TOKEN_URL=lms.url + "/token",
            PEER_DEPLOYMENT_ID="deploy-1",
        )
        command = f"cd {peer_dir} && PEER_PORT={peer_port} PEER_STATE_DIR={state} PEER_PLATFORM_ISSUER={lms.url} PEER_PLATFORM_TOKEN_URL={lms.url}/token PEER_DEPLOYMENT_ID=deploy-1 .venv/bin/python app.py"
        peer = subprocess.Popen(
            [str(python), "app.py"],
            cwd=peer_dir,
            env=env,
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_http(peer_url + "/jwks")
            launches = []
            for n in range(args.pylti1p3):
                browser = requests.Session()
                start = requests.get(
                    lms.url + "/api/launch", params={"activity": 1, "user": str(1000 + n)}, timeout=10
                ).json()
                login = browser.get(start["url"], allow_redirects=False, timeout=10)
                auth = browser.get(login.headers["Location"], timeout=10)
                form = _Form()
                form.feed(auth.text)
                page = browser.post(form.action, data=form.fields, timeout=30)
                match = re.search(r'data-launch-id="([^"]+)"', page.text)
                assert page.status_code == 200 and match, page.text[:300]
                launches.append(match.group(1))
            before = lms.stats()
            http = requests.Session()
            latencies = []
            started = time.monotonic()
            ok = 0
            for launch_id in launches:
                t = time.monotonic()
                response = http.post(f"{peer_url}/score/{launch_id}", json={"score": 80}, timeout=30)
                latencies.append(time.monotonic() - t)
                ok += response.status_code == 200
            elapsed = time.monotonic() - started
            after = lms.stats()
        finally:
            peer.terminate()
            peer.wait(10)
            lms.stop()
    tokens = after["token_requests"] - before["token_requests"]
    posts = after["score_posts"] - before["score_posts"]
    print()
    print(
        f"pylti1p3 2.0.0 peer (inline score post, one request per score), demo LMS: {args.pylti1p3} learners, 1 score each"
    )
    print(
        f"  ok {ok}/{len(launches)}; {len(launches) / elapsed:.1f} scores/s sequential; latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms"
    )
    print(f"  token requests: {tokens} for {posts} score posts = {tokens / max(posts, 1):.2f} per score")
    print(f"  command: {command}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-demo-lms":
        serve_demo_lms(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=1000, help="2 rows each (default 1000 -> 2000 rows)")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to run, e.g. 1,2,4")
    parser.add_argument("--threads", type=int, default=1, help="--concurrency of each worker process")
    parser.add_argument("--peer", choices=["fast", "demo"], default="fast")
    parser.add_argument(
        "--lag-learners", type=int, default=200, help="learners for the lag phase (2 rows each)"
    )
    parser.add_argument("--lag-rate", type=float, default=50.0, help="rows/s committed in the lag phase")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--redis-url", default="", help="e.g. redis://127.0.0.1:6379/14 (token cache and locks)"
    )
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--pylti1p3", type=int, default=0, help="also measure the pylti1p3 peer with this many learners"
    )
    parser.add_argument("--pylti1p3-dir", default=str(DEFAULT_PEERS))
    args = parser.parse_args()

    print(
        f"grades: backlog of {args.learners} learners x 2 rows released at once, then {args.lag_learners} learners, one per transaction, "
        f"x 2 rows committed at {args.lag_rate:.0f} rows/s; platform: {args.peer}; {args.threads} thread(s) per "
        f"worker process; {'Redis' if args.redis_url else 'no Redis'}; course from {content_dir().relative_to(ROOT)}"
    )
    print(
        f"{'workers':>7} {'backlog':>7} {'secs':>6} {'scores/s':>9} {'cpu ms/score w+p':>16} | {'live':>5} "
        f"{'lag p50':>8} {'lag p95':>8} {'lag max':>8} | {'tokens':>6}  {'platform answers':<18} {'check':<6} load"
    )
    for count in [int(x) for x in args.workers.split(",") if x]:
        r = run(args, count)
        print(
            f"{r.workers:>7} {r.rows:>7} {r.seconds:>6.2f} {r.per_second:>9.0f} "
            f"{r.cpu_ms_worker:>8.1f}+{r.cpu_ms_platform:<7.1f} | {r.lag_rows:>5} "
            f"{r.lag_p50 * 1000:>6.0f}ms {r.lag_p95 * 1000:>6.0f}ms {r.lag_max * 1000:>6.0f}ms | {r.tokens:>6}  "
            f"{r.posts:<18} {r.verified:<6} {r.load}",
            flush=True,
        )
    if args.pylti1p3:
        pylti1p3(args)


if __name__ == "__main__":
    main()
