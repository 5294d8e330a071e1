"""Webinar-start soak with faults: 300 learners launch within 30 s from the demo LMS, then browse and take quizzes
for 10 minutes, against two gunicorn instances and two grade workers on PostgreSQL and a Redis of its own; during
the run it terminates the tool's PostgreSQL backends, restarts Redis and SIGKILLs a web worker and a grade worker.

    .venv/bin/python bench/load.py                       # the full soak (about 13 minutes)
    .venv/bin/python bench/load.py --duration 120 --learners 60 --launch-window 10 --fault-every 25   # shorter

Prints: launches/s and launch latency, page p50/p95/p99 by kind, errors by status (and which fell inside a fault
window), the tool's CPU per request, RSS per process at the start and the end of browsing with the peak and the
trend, the outbox lag (created -> sent) p50/p95, and ends with the check that every learner's newest grade is at the
platform exactly once (exit status 1 if not). Not a test: it measures, and it needs PostgreSQL
(postgres@127.0.0.1:5432, trust) and `redis-server` on PATH.

What runs (all on 127.0.0.1, all stopped again at the end, the database dropped):
- the demo LMS (lti_tool/demo_lms) in its own process, with the learners enrolled, as the platform: OIDC /auth,
  signed id_tokens, the token endpoint, AGS line items and scores, and its JSON API to read what it holds;
- `redis-server` on a free port (launch store, access tokens, worker locks);
- two gunicorn instances of the tool with config/gunicorn.conf.py (LTI_TOOL_WEB_WORKERS x LTI_TOOL_WEB_THREADS
  each, default 2 x 4), one database; learner i is sent to instance i % 2 for all its requests, as a load
  balancer would (the tool's public URL is instance A's; the requests of learner i go to its instance's port);
- two `scripts/flask grades worker` processes (threads: --grade-threads).
Learners are threads taking turns from a schedule: each does its next step (overview, module, lessons, quiz form,
quiz submit and result, practice task, exchange) after a think time of --think-min..--think-max seconds.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import benchenv
import procinfo
import psycopg
import requests
from driver import FormParser
from pages import CSRF, learner_steps, quiz_fields

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "nama-load-tool"
DEPLOYMENT_ID = "1"
FIRST_LEARNER = 1000
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


free_port = benchenv.free_port


def wait_for(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# --- the demo LMS process ---------------------------------------------------------------------------------


def run_lms(port: int, state_db: str, tools_json: str, learners: int) -> None:
    """The platform: the demo LMS with `learners` more learners enrolled in its course."""
    sys.path.insert(0, str(ROOT))
    from werkzeug.serving import make_server

    from lti_tool.demo_lms import create_demo_lms
    from lti_tool.demo_lms.state import EXTENSION
    from lti_tool.demo_lms.storage import User

    issuer = f"http://127.0.0.1:{port}"
    app = create_demo_lms(
        {"ISSUER": issuer, "STATE_DB": state_db, "TOOLS": json.loads(tools_json), "FAULTS_ENABLED": True}
    )
    with app.extensions[EXTENSION].store.tx() as session:
        for n in range(FIRST_LEARNER, FIRST_LEARNER + learners):
            if session.get(User, str(n)) is None:
                session.add(
                    User(
                        id=str(n),
                        username=f"learner{n}",
                        full_name=f"Lernende {n}",
                        given_name="Lernende",
                        family_name=str(n),
                        email=f"learner{n}@example.org",
                        course_role="Learner",
                    )
                )
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


# --- the stack ---------------------------------------------------------------------------------------------


@dataclass
class Stack:
    args: argparse.Namespace
    workdir: Path
    db_name: str
    lms_url: str = ""
    redis_port: int = 0
    tool_urls: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    lms: subprocess.Popen[bytes] | None = None
    redis: subprocess.Popen[bytes] | None = None
    gunicorns: list[subprocess.Popen[bytes]] = field(default_factory=list)
    graders: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.db_name}"

    def log(self, name: str) -> Any:
        handle = (self.workdir / f"{name}.log").open("ab")
        self.logs.append(handle)
        return handle

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=self.log("redis"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import redis

                redis.Redis(port=self.redis_port).ping()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=10)

    def start_grader(self, index: int) -> None:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "app",
                "grades",
                "worker",
                "--concurrency",
                str(self.args.grade_threads),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log(f"grades-{index}"),
            stderr=subprocess.STDOUT,
        )
        while len(self.graders) <= index:
            self.graders.append(None)
        self.graders[index] = proc

    def start(self) -> None:
        a = self.args
        lms_port, self.redis_port = free_port(), free_port()
        tool_ports = [free_port(), free_port()]
        self.tool_urls = [f"http://127.0.0.1:{p}" for p in tool_ports]
        self.lms_url = f"http://127.0.0.1:{lms_port}"
        public = self.tool_urls[0]
        tools = [
            {
                "client_id": CLIENT_ID,
                "deployment_id": DEPLOYMENT_ID,
                "name": "NaMa NRW Grundlagenkurs",
                "login_url": public + "/lti/login",
                "redirect_uris": [public + "/lti/launch"],
                "target_link_uri": public + "/lti/launch",
                "deep_link_url": public + "/lti/launch",
                "jwks_url": public + "/.well-known/jwks.json",
                "scopes": [
                    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                ],
                "custom": {"course": "grundlagenkurs"},
            }
        ]
        self.lms = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--lms-process",
                json.dumps(
                    [lms_port, f"sqlite:///{self.workdir / 'lms.sqlite'}", json.dumps(tools), a.learners]
                ),
            ],
            cwd=ROOT,
            stdout=self.log("lms"),
            stderr=subprocess.STDOUT,
        )
        self.start_redis()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("LTI_TOOL_", "PROMETHEUS_"))},
            "LTI_TOOL_DATABASE_URL": self.db_url,
            "LTI_TOOL_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "LTI_TOOL_SECRET_KEY": secrets.token_urlsafe(32),
            "LTI_TOOL_BASE_URL": public,
            "LTI_TOOL_INSTANCE_PATH": str(self.workdir / "instance"),
            "LTI_TOOL_EMBEDDED_WORKER": "false",
            "LTI_TOOL_ENV": "development",  # for X-CPU-Us (LTI_TOOL_BENCH_COUNT_QUERIES), nothing else
            "LTI_TOOL_BENCH_COUNT_QUERIES": "true",
            "LTI_TOOL_WEB_WORKERS": str(a.web_workers),
            "LTI_TOOL_WEB_THREADS": str(a.web_threads),
            "LTI_TOOL_GRADE_HEARTBEAT_SECONDS": "5",
            "LTI_TOOL_GRADE_LEASE_SECONDS": "30",
            "LTI_TOOL_MALLOC_ARENAS": str(a.malloc_arenas),
        }
        if a.memdebug:
            self.env["NAMA_BENCH_MEMDEBUG"] = str(Path(a.memdebug).resolve())
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=self.env, check=True, capture_output=True)
        wait_for(self.lms_url + "/jwks")
        subprocess.run(
            [
                *flask,
                "platform",
                "add",
                "--issuer",
                self.lms_url,
                "--client-id",
                CLIENT_ID,
                "--auth-login-url",
                self.lms_url + "/auth",
                "--auth-token-url",
                self.lms_url + "/mod/lti/token.php",
                "--jwks-url",
                self.lms_url + "/jwks",
                "--deployment-id",
                DEPLOYMENT_ID,
            ],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        for i, port in enumerate(tool_ports):
            self.gunicorns.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "-c",
                        "bench/gunicorn_memdebug.conf.py" if a.memdebug else "config/gunicorn.conf.py",
                        "--no-control-socket",
                        "app:app",
                    ],
                    cwd=ROOT,
                    env={**self.env, "LTI_TOOL_BIND": f"127.0.0.1:{port}"},
                    stdout=self.log(f"web-{'AB'[i]}"),
                    stderr=subprocess.STDOUT,
                )
            )
        for i in range(2):
            self.start_grader(i)
        for url in self.tool_urls:
            wait_for(url + "/healthz", timeout=600 if a.memdebug else 90)  # tracing slows the start
        for gunicorn in self.gunicorns:  # every worker booted, not only the first to answer
            procinfo.settle(lambda g=gunicorn: procinfo.tree(g.pid), timeout=60)

    def web_workers(self, index: int) -> list[int]:
        return [p for p in procinfo.tree(self.gunicorns[index].pid) if p != self.gunicorns[index].pid]

    def processes(self) -> dict[str, list[int]]:
        """Role -> pids, now (gunicorn workers come and go when one is killed)."""
        roles: dict[str, list[int]] = {}
        for i, g in enumerate(self.gunicorns):
            roles[f"web-{'AB'[i]} master"] = [g.pid]
            for n, pid in enumerate(self.web_workers(i)):
                roles[f"web-{'AB'[i]} worker {pid}"] = [pid]
                del n
        for i, grader in enumerate(self.graders):
            if grader is not None and grader.poll() is None:
                roles[f"grades-{i} {grader.pid}"] = [grader.pid]
        return roles

    def stop(self) -> None:
        procs = [*self.gunicorns, *[g for g in self.graders if g], self.lms]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            if proc is None:
                continue
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.stop_redis()
        for handle in self.logs:
            handle.close()
        try:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        except psycopg.Error as exc:
            print(f"could not drop {self.db_name}: {exc}")


# --- learners ----------------------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    at: float  # monotonic start
    seconds: float
    status: str
    ok: bool
    cpu_us: int | None


@dataclass
class Learner:
    number: int
    lms_user: str
    instance: str  # base URL of the gunicorn instance that serves this learner
    http: requests.Session = field(default_factory=requests.Session)
    base: str = ""
    csrf: str = ""
    steps: Iterator[tuple[str, str, Any]] | None = None
    practice_done: set[str] = field(default_factory=set)
    last_page: str = ""
    launched: bool = False


class Recorder:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.resent = 0

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def _dropped_keepalive(exc: requests.ConnectionError) -> bool:
    """The server closed a reused connection before answering (not a refused connection: a dead server)."""
    text = repr(exc)
    return "RemoteDisconnected" in text or "Connection reset by peer" in text or "BadStatusLine" in text


def routed(url: str, instance: str) -> str:
    """The same path on the learner's instance (what a load balancer in front of both does)."""
    parts, inst = urlsplit(url), urlsplit(instance)
    return urlunsplit((inst.scheme, inst.netloc, parts.path, parts.query, parts.fragment))


def timed(recorder: Recorder, kind: str, call: Any) -> requests.Response | None:
    """One request, recorded. A request whose kept-alive connection gunicorn had just closed (its keepalive of
    5 s racing a learner's next click) is sent again once, as browsers do (`Recorder.resent`); the tool never
    saw the lost try, and its forms are idempotent (bench/pages.py does the same)."""
    started = time.monotonic()
    try:
        try:
            resp: requests.Response = call()
        except requests.ConnectionError as exc:
            if not _dropped_keepalive(exc):
                raise
            with recorder.lock:
                recorder.resent += 1
            resp = call()
    except requests.RequestException as exc:
        recorder.add(Sample(kind, started, time.monotonic() - started, type(exc).__name__, False, None))
        return None
    cpu = getattr(resp, "bench_cpu_us", None)
    if cpu is None and resp.headers.get("X-CPU-Us"):
        cpu = int(resp.headers["X-CPU-Us"])
    recorder.add(
        Sample(kind, started, time.monotonic() - started, str(resp.status_code), resp.status_code < 400, cpu)
    )
    return resp


def launch(stack: Stack, learner: Learner, recorder: Recorder) -> None:
    def do() -> requests.Response:
        start = requests.get(
            stack.lms_url + "/api/launch", params={"activity": "1", "user": learner.lms_user}, timeout=30
        ).json()
        login = learner.http.get(routed(start["url"], learner.instance), allow_redirects=False, timeout=30)
        if login.status_code != 302:
            return login
        auth = learner.http.get(login.headers["Location"], timeout=30)  # the LMS: its auto-posting form
        form = FormParser()
        form.feed(auth.text)
        if not form.action:
            return auth
        post = learner.http.post(
            routed(form.action, learner.instance), data=form.fields, allow_redirects=False, timeout=30
        )
        if post.status_code != 303:
            return post
        page = learner.http.get(
            urljoin(routed(form.action, learner.instance), post.headers["Location"]), timeout=30
        )
        page.bench_cpu_us = sum(int(r.headers.get("X-CPU-Us", 0)) for r in (login, post, page))  # type: ignore[attr-defined]
        return page

    page = timed(recorder, "launch", do)
    if page is None or page.status_code != 200:
        return
    found = CSRF.search(page.text)
    if not found:
        return
    learner.base = page.url if page.url.endswith("/") else page.url.rsplit("/", 1)[0] + "/"
    learner.csrf = found.group(1)
    learner.last_page = page.text
    learner.launched = True


def step(learner: Learner, recorder: Recorder, rng: random.Random) -> None:
    assert learner.steps is not None
    kind, path, data = next(learner.steps)
    url = urljoin(learner.base, path)
    if data is None:
        resp = timed(recorder, kind, lambda: learner.http.get(url, timeout=60))
        if resp is not None and resp.status_code == 200:
            learner.last_page = resp.text
        return
    if data == "QUIZ":
        try:
            fields = quiz_fields(learner.last_page, rng)
        except AssertionError:  # the quiz form did not come (an error page): skip this submit
            return
    else:
        fields = list(data.items())
    fields.append(("csrf_token", learner.csrf))
    resp = timed(
        recorder, kind, lambda: learner.http.post(url, data=fields, allow_redirects=False, timeout=60)
    )
    if resp is not None and resp.status_code == 303:
        follow = "quiz result" if kind == "quiz submit" else "practice form (after save)"
        after = timed(
            recorder, follow, lambda: learner.http.get(urljoin(url, resp.headers["Location"]), timeout=60)
        )
        if after is not None and after.status_code == 200:
            learner.last_page = after.text


# --- faults ------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    start: float
    end: float = 0.0
    detail: str = ""


def run_faults(
    stack: Stack, t0: float, offsets: list[tuple[str, float]], faults: list[Fault], grace: float
) -> None:
    for name, offset in offsets:
        delay = t0 + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        fault = Fault(name, time.monotonic())
        if name == "pg_terminate_backend":
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                killed = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (stack.db_name,),
                ).fetchone()
            fault.detail = f"{killed[0] if killed else 0} backends terminated"
        elif name == "redis_restart":
            stack.stop_redis()
            time.sleep(3)
            stack.start_redis()
            fault.detail = "down about 3 s"
        elif name == "kill_web_worker":
            workers = stack.web_workers(0)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                fault.detail = f"SIGKILL web-A worker {workers[0]}"
        elif name == "kill_grade_worker":
            grader = stack.graders[0]
            if grader is not None:
                grader.kill()
                grader.wait()
                fault.detail = f"SIGKILL grades-0 {grader.pid}; started again after 5 s"
                time.sleep(5)
                stack.start_grader(0)
        fault.end = time.monotonic() + grace
        faults.append(fault)


# --- measuring ---------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in values:
                values[key] = int(line.split()[1])
    except OSError:
        pass
    return values["VmRSS"] / 1024, values["VmHWM"] / 1024


def sample_memory(
    stack: Stack, stop: threading.Event, series: dict[str, list[tuple[float, float, float]]], every: float
) -> None:
    while not stop.is_set():
        now = time.monotonic()
        for role, pids in stack.processes().items():
            rss, peak = rss_mb(pids[0])
            if rss:
                series[role].append((now, rss, peak))
        stop.wait(every)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def slope_mb_per_min(points: list[tuple[float, float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    xs = [(t - points[0][0]) / 60 for t, _, _ in points]
    ys = [rss for _, rss, _ in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


# --- the final check ---------------------------------------------------------------------------------------


def outbox_rows(stack: Stack) -> list[dict[str, Any]]:
    with psycopg.connect(stack.db_url.replace("+psycopg", "")) as conn:
        cur = conn.execute(
            "SELECT o.id, u.sub, o.target, o.lineitem_url, o.state, o.payload, o.created_at, o.sent_at "
            "FROM grade_outbox o JOIN lti_user u ON u.id = o.user_id ORDER BY o.id"
        )
        names = [c.name for c in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def wait_for_outbox(stack: Stack, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        waiting = [r for r in outbox_rows(stack) if r["state"] in ("pending", "sending")]
        if not waiting:
            break
        time.sleep(2)
    return time.monotonic() - started


def exactly_once(stack: Stack, rows: list[dict[str, Any]]) -> list[str]:
    """Problems (empty: fine): for every learner and target, the newest score the tool delivered is the one the
    platform holds, and the platform accepted each of the tool's scores at most once (nothing else)."""
    problems: list[str] = []
    waiting = [r["id"] for r in rows if r["state"] in ("pending", "sending")]
    if waiting:
        problems.append(f"{len(waiting)} grade(s) still waiting: {waiting[:10]}")
    failed = [(r["id"], r["state"]) for r in rows if r["state"] == "failed"]
    if failed:
        problems.append(f"{len(failed)} grade(s) failed: {failed[:10]}")
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row["state"] in ("sent", "applied"):
            key = (row["sub"], row["target"])
            if key not in newest or row["id"] > newest[key]["id"]:
                newest[key] = row
    for key, row in newest.items():
        later = [r for r in rows if (r["sub"], r["target"]) == key and r["id"] > row["id"]]
        if any(r["state"] not in ("superseded", "failed") for r in later):
            problems.append(f"{key}: a newer row than #{row['id']} was not delivered")
    held = {
        (s["line_item_url"], s["user_id"]): s
        for s in requests.get(stack.lms_url + "/api/scores", timeout=60).json()
    }
    expected = {(r["lineitem_url"], r["sub"]): r for r in newest.values()}
    for key in sorted(set(expected) ^ set(held)):
        problems.append(
            f"{key}: {'at the platform but not sent' if key in held else 'sent but not at the platform'}"
        )
    for key, row in expected.items():
        got = held.get(key)
        if got is not None and got["timestamp"] != row["payload"]["timestamp"]:
            problems.append(
                f"{key}: the platform holds {got['timestamp']}, the newest sent is {row['payload']['timestamp']}"
            )
    ours = {(r["lineitem_url"], r["sub"], r["payload"]["timestamp"]) for r in rows if r["lineitem_url"]}
    seen: set[tuple[str, str, str]] = set()
    for event in requests.get(stack.lms_url + "/api/score-history", timeout=60).json():
        key = (event["line_item_url"], event["user_id"], event["timestamp"])
        if key not in ours:
            problems.append(f"the platform accepted a score the tool did not send: {key}")
        if key in seen:
            problems.append(f"the platform accepted a score twice: {key}")
        seen.add(key)
    return problems


# --- the run -----------------------------------------------------------------------------------------------


def schedule_faults(args: argparse.Namespace) -> list[tuple[str, float]]:
    names = ["pg_terminate_backend", "redis_restart", "kill_web_worker", "kill_grade_worker"]
    first = args.launch_window + args.fault_every
    return [(name, first + i * args.fault_every) for i, name in enumerate(names)]


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="nama-load-"))
    stack = Stack(args, workdir, benchenv.db_name("load", str(os.getpid())))
    recorder = Recorder()
    faults: list[Fault] = []
    memory: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    stop_sampling = threading.Event()
    try:
        print(
            f"starting: demo LMS, redis-server, PostgreSQL database {stack.db_name}, 2 gunicorn, 2 grade workers ..."
        )
        stack.start()
        busy0, _ = procinfo.system_cpu()
        print(
            f"tool at {' and '.join(stack.tool_urls)} (gunicorn {args.web_workers} x {args.web_threads} each), "
            f"LMS {stack.lms_url}, Redis :{stack.redis_port}; logs in {workdir}"
        )
        rng = random.Random(args.seed)
        learners = [Learner(n, str(FIRST_LEARNER + n), stack.tool_urls[n % 2]) for n in range(args.learners)]
        course = load_course(args)
        for learner in learners:
            learner.steps = learner_steps(learner, course, random.Random(rng.random()))  # type: ignore[arg-type]
        t0 = time.monotonic()
        end_at = t0 + args.launch_window + args.duration
        queue: list[tuple[float, int]] = [
            (t0 + args.launch_window * n / max(1, args.learners), n) for n in range(args.learners)
        ]
        heapq.heapify(queue)
        lock = threading.Condition()

        def tool_cpu() -> float:
            pids = [p for g in stack.gunicorns for p in procinfo.tree(g.pid)]
            return procinfo.cpu_seconds(pids)

        def worker(seed: float) -> None:
            wrng = random.Random(seed)
            while True:
                with lock:
                    while True:
                        if not queue:
                            return
                        due, n = queue[0]
                        if due >= end_at:
                            return
                        wait = due - time.monotonic()
                        if wait <= 0:
                            heapq.heappop(queue)
                            break
                        lock.wait(min(wait, 0.5))
                learner = learners[n]
                if not learner.launched:
                    launch(stack, learner, recorder)
                    if not learner.launched:  # try again a little later, as a person would
                        with lock:
                            heapq.heappush(queue, (time.monotonic() + 5, n))
                            lock.notify()
                        continue
                else:
                    step(learner, recorder, wrng)
                with lock:
                    heapq.heappush(
                        queue, (time.monotonic() + wrng.uniform(args.think_min, args.think_max), n)
                    )
                    lock.notify()

        sampler = threading.Thread(
            target=sample_memory, args=(stack, stop_sampling, memory, args.memory_every), daemon=True
        )
        sampler.start()
        fault_thread = threading.Thread(
            target=run_faults, args=(stack, t0, schedule_faults(args), faults, args.fault_grace), daemon=True
        )
        fault_thread.start()
        cpu_start = tool_cpu()
        threads = [threading.Thread(target=worker, args=(rng.random(),)) for _ in range(args.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - t0
        cpu_used = tool_cpu() - cpu_start
        busy1, _ = procinfo.system_cpu()
        stop_sampling.set()
        sampler.join()
        fault_thread.join(timeout=60)
        print(f"browsing ended after {wall:.0f} s; waiting for the outbox to empty ...")
        drained = wait_for_outbox(stack, args.drain_timeout)
        rows = outbox_rows(stack)
        report(args, recorder, faults, memory, rows, t0, wall, cpu_used, (busy1 - busy0) / wall, drained)
        problems = exactly_once(stack, rows)
        learners_graded = len({r["sub"] for r in rows if r["state"] in ("sent", "applied")})
        print()
        if problems:
            print(f"FINAL CHECK FAILED ({len(problems)} problem(s)):")
            for problem in problems[:40]:
                print("  " + problem)
            return 1
        print(
            f"final check: every learner's newest grade is at the platform exactly once "
            f"({learners_graded} learners, {sum(r['state'] == 'sent' for r in rows)} scores sent, "
            f"{sum(r['state'] == 'applied' for r in rows)} already there (409), "
            f"{sum(r['state'] == 'superseded' for r in rows)} superseded before sending)"
        )
        return 0
    finally:
        stop_sampling.set()
        stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def load_course(args: argparse.Namespace) -> Any:
    sys.path.insert(0, str(ROOT))
    from lti_tool.course.loader import load_course as load

    return load(ROOT / "content" / "grundlagenkurs")


def report(
    args: argparse.Namespace,
    recorder: Recorder,
    faults: list[Fault],
    memory: dict[str, list[tuple[float, float, float]]],
    rows: list[dict[str, Any]],
    t0: float,
    wall: float,
    cpu_used: float,
    busy_cores: float,
    drained: float,
) -> None:
    samples = recorder.samples
    launches = [s for s in samples if s.kind == "launch"]
    ok_launches = [s for s in launches if s.ok]
    print()
    if ok_launches:
        first = min(s.at for s in launches)
        last = max(s.at + s.seconds for s in ok_launches)
        times = [s.seconds * 1000 for s in ok_launches]
        cpu = [s.cpu_us / 1000 for s in ok_launches if s.cpu_us]
        print(
            f"launches: {len(ok_launches)} of {args.learners} learners in {last - first:.1f} s = "
            f"{len(ok_launches) / (last - first):.1f} launches/s (offered: {args.learners / args.launch_window:.1f}/s); "
            f"{len(launches) - len(ok_launches)} failed tries; latency p50 {percentile(times, 50):.0f} ms, "
            f"p95 {percentile(times, 95):.0f} ms, p99 {percentile(times, 99):.0f} ms; "
            f"tool CPU per launch (X-CPU-Us) p50 {percentile(cpu, 50):.1f} ms"
        )
    pages = [s for s in samples if s.kind != "launch"]
    print(
        f"requests: {len(samples)} in {wall:.0f} s ({len(samples) / wall:.1f}/s); tool CPU (all gunicorn processes) "
        f"{1000 * cpu_used / max(1, len(samples)):.2f} ms per request; machine busy {busy_cores:.2f} of "
        f"{os.cpu_count()} cores on average (everything, other sessions included); sent again after a dropped "
        f"keep-alive connection: {recorder.resent}"
    )
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in pages:
        by_kind[s.kind].append(s)
    header = f"{'page kind':28} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'CPU ms p50':>10} {'errors':>6}"
    print(header)
    print("-" * len(header))
    for kind, group in sorted(by_kind.items()):
        times = [s.seconds * 1000 for s in group if s.ok]
        cpu = [s.cpu_us / 1000 for s in group if s.cpu_us is not None]
        print(
            f"{kind:28} {len(group):>6} {percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f} "
            f"{percentile(times, 99):>8.1f} {percentile(cpu, 50):>10.2f} {sum(not s.ok for s in group):>6}"
        )
    print()
    print(f"faults (seconds after the first launch; window = until {args.fault_grace:.0f} s after it ended):")
    for f in faults:
        print(f"  {f.start - t0:6.1f} .. {f.end - t0:6.1f}  {f.name}: {f.detail}")
    errors: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in samples:
        if not s.ok:
            inside = any(f.start <= s.at + s.seconds and s.at <= f.end for f in faults)
            errors[(s.kind, s.status)][0 if inside else 1] += 1
    if errors:
        print("errors by page kind and status: inside a fault window / outside")
        for (kind, status), (inside, outside) in sorted(errors.items()):
            print(f"  {kind:28} {status:22} {inside:>5} / {outside}")
    else:
        print("errors: none")
    print()
    print("memory (MB): RSS at the start of browsing -> at the end; peak RSS (VmHWM); trend while browsing")
    browsing_from = t0 + args.launch_window
    for role, points in sorted(memory.items()):
        during = [p for p in points if p[0] >= browsing_from] or points
        start, end = during[0][1], during[-1][1]
        peak = max(p[2] for p in points)
        lived = f"{(points[-1][0] - points[0][0]) / 60:.1f} min sampled"
        print(
            f"  {role:28} {start:7.1f} -> {end:7.1f}   peak {peak:7.1f}   "
            f"{slope_mb_per_min(during):+6.2f} MB/min ({lived})"
        )
    print("RSS (MB) of each process at every full minute since the first launch (does the trend level off?):")
    for role, points in sorted(memory.items()):
        by_minute: dict[int, float] = {}
        for when, rss, _peak in points:
            by_minute.setdefault(int((when - t0) // 60), rss)
        print(f"  {role:28} " + " ".join(f"{rss:.0f}" for _, rss in sorted(by_minute.items())))
    lags = [
        (r["sent_at"] - r["created_at"]).total_seconds()
        for r in rows
        if r["state"] in ("sent", "applied") and r["sent_at"] is not None
    ]
    states: dict[str, int] = defaultdict(int)
    for r in rows:
        states[r["state"]] += 1
    print()
    print(
        f"outbox: {len(rows)} rows {dict(states)}; lag created -> delivered p50 {percentile(lags, 50):.2f} s, "
        f"p95 {percentile(lags, 95):.2f} s, max {max(lags, default=0):.2f} s; emptied {drained:.0f} s after browsing"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument(
        "--launch-window", type=float, default=30.0, help="seconds in which all learners launch"
    )
    parser.add_argument(
        "--duration", type=float, default=600.0, help="seconds of browsing after the launch window"
    )
    parser.add_argument(
        "--think-min", type=float, default=2.0, help="seconds between a learner's steps, at least"
    )
    parser.add_argument("--think-max", type=float, default=8.0, help="... and at most")
    parser.add_argument("--threads", type=int, default=48, help="driver threads (requests in flight at most)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument(
        "--malloc-arenas",
        type=int,
        default=2,
        help="LTI_TOOL_MALLOC_ARENAS of the web workers (0: glibc's default)",
    )
    parser.add_argument("--grade-threads", type=int, default=2, help="threads per grade worker process")
    parser.add_argument("--fault-every", type=float, default=120.0, help="seconds between the four faults")
    parser.add_argument(
        "--fault-grace", type=float, default=10.0, help="a fault's window lasts this long after it"
    )
    parser.add_argument("--memory-every", type=float, default=15.0, help="seconds between memory samples")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the logs folder")
    parser.add_argument(
        "--memdebug",
        default="",
        metavar="DIR",
        help="web workers write a memory census to DIR every minute (bench/gunicorn_memdebug.conf.py)",
    )
    parser.add_argument("--lms-process", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lms_process:
        port, state_db, tools_json, learners = json.loads(args.lms_process)
        run_lms(port, state_db, tools_json, learners)
        return 0
    if not shutil.which("redis-server"):
        print("redis-server is not on PATH (Debian: apt-get install redis-server)")
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
