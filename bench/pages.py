"""Learner pages under load: N simulated learners (each launched once) browse lessons and submit quizzes
against gunicorn on PostgreSQL (or SQLite); prints requests/s, p50/p95 per page kind, errors, SQL statements per page
and the tool's CPU per page kind.

    .venv/bin/python bench/pages.py --duration 60 --learners 200 --workers 4 --threads 4 --concurrency 16

What it starts (and stops again): a fresh PostgreSQL database (created from --admin-url, dropped at the end),
a platform in its own process that signs the id_tokens (this file with --platform-process), and gunicorn
serving `app:create_app()` with LTI_TOOL_BENCH_COUNT_QUERIES=1, so every response carries `X-Query-Count`
(the number of SQL statements the request ran) and `X-CPU-Us` (the CPU time of the thread that served it, from
the request reaching the app to its response headers; the tool refuses that setting in production).

CPU, two ways: "CPU ms" per page kind is the median of `X-CPU-Us` (the app's own work for that page: routing,
session, SQL in Python, templates); "tool CPU per request" below the table is all CPU of the gunicorn processes
during the browsing phase (from /proc: master, workers, every thread, gunicorn's HTTP handling included) divided by
the requests, next to the CPU cores that other programs on the machine kept busy meanwhile ("other"). The simulated
learners are threads here: each takes the next learner and does that learner's next step. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import benchenv
import requests

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "bench-client"
DEPLOYMENT_ID = "bench-deployment"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


# --- The platform process: JWKS + signing id_tokens ---------------------------------------------------


def run_platform(port: int) -> None:
    """A minimal LTI platform: publishes its key, signs an id_token for a nonce (what its OIDC auth step does)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from flask import Flask, jsonify, request
    from jwt.algorithms import RSAAlgorithm
    from werkzeug.serving import make_server

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = uuid.uuid4().hex[:16]
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    issuer = f"http://127.0.0.1:{port}"
    app = Flask("bench-platform")

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify({"keys": [jwk]})

    @app.post("/sign")
    def sign() -> Any:
        body = request.get_json(force=True)
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": CLIENT_ID,
            "sub": body["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": body["nonce"],
            "name": body["name"],
            "given_name": body["name"].split()[0],
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": DEPLOYMENT_ID,
            LTI + "target_link_uri": body["launch_url"],
            LTI + "resource_link": {"id": "rl-bench", "title": "Grundlagenkurs"},
            LTI + "context": {"id": "bench-course", "label": "NaMa", "title": "NaMa NRW Bench"},
            LTI + "roles": [LEARNER_ROLE],
            LTI + "launch_presentation": {"document_target": "iframe", "locale": "de-DE"},
            LTI + "custom": {"course": body["course"]},
        }
        return jsonify({"id_token": jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})})

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("platform ready", flush=True)
    server.serve_forever()


# --- Processes and the database -----------------------------------------------------------------------


free_port = benchenv.free_port


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def database(admin_url: str, name: str, action: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if action == "create":
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return f"postgresql+psycopg://{parts.netloc}/{name}"


def default_content_dir() -> Path:
    real = ROOT / "content"
    if (real / "grundlagenkurs" / "course.toml").exists():
        return real
    return ROOT / "tests" / "fixtures" / "content"  # read as files only (no import from tests)


@dataclass
class Stack:
    """The tool under gunicorn and the platform process, with the environment they share."""

    tool_url: str
    platform_url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_stack(args: argparse.Namespace, url: str, instance: Path) -> Stack:
    tool_port, platform_port = free_port(), free_port()
    env = {
        **os.environ,
        "LTI_TOOL_DATABASE_URL": url,
        "LTI_TOOL_SECRET_KEY": secrets.token_urlsafe(32),
        "LTI_TOOL_INSTANCE_PATH": str(instance),
        "LTI_TOOL_CONTENT_DIR": str(args.content_dir),
        "LTI_TOOL_DEFAULT_COURSE": args.course,
        "LTI_TOOL_ENV": "development",
        "LTI_TOOL_BENCH_COUNT_QUERIES": "true",
        "LTI_TOOL_EMBEDDED_WORKER": "false",
    }
    if args.redis_url:
        env["LTI_TOOL_REDIS_URL"] = args.redis_url
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    platform_url = f"http://127.0.0.1:{platform_port}"
    subprocess.run(
        [
            *flask,
            "platform",
            "add",
            "--issuer",
            platform_url,
            "--client-id",
            CLIENT_ID,
            "--auth-login-url",
            platform_url + "/auth",
            "--auth-token-url",
            platform_url + "/token",
            "--jwks-url",
            platform_url + "/jwks",
            "--deployment-id",
            DEPLOYMENT_ID,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    stack = Stack(f"http://127.0.0.1:{tool_port}", platform_url)
    log = open(instance / "gunicorn.log", "wb")  # noqa: SIM115  (kept open for the process's lifetime)
    stack.procs.append(
        subprocess.Popen(
            [sys.executable, __file__, "--platform-process", str(platform_port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    )
    stack.procs.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(args.workers),
                "--threads",
                str(args.threads),
                "-b",
                f"127.0.0.1:{tool_port}",
                "--log-level",
                "warning",
                "app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    )
    wait_for(platform_url + "/jwks")
    wait_for(stack.tool_url + "/healthz")
    return stack


# --- Simulated learners ----------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ATTEMPT = re.compile(r'name="versuch" value="([^"]+)"')
CHOICE = re.compile(r'<input type="(radio|checkbox)" id="[^"]+" name="(q\d+)" value="(\d+)"')
ORDERING = re.compile(r'<select id="[^"]+" name="(q\d+\.\d+)"[^>]*>(.*?)</select>', re.DOTALL)
SELECTED = re.compile(r'<option value="(\d+)" selected>')


@dataclass
class Sample:
    kind: str
    seconds: float
    ok: bool
    queries: int | None
    status: str = ""  # HTTP status, or the exception's name
    cpu_us: int | None = None  # the tool's X-CPU-Us (summed over the requests of a launch)


@dataclass
class Learner:
    number: int
    http: requests.Session
    base: str = ""
    csrf: str = ""
    steps: Iterator[tuple[str, str, Any]] | None = None
    practice_done: set[str] = field(default_factory=set)


class Recorder:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.resent = 0

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def timed(recorder: Recorder, kind: str, call: Any, *, idempotent: bool = False) -> requests.Response | None:
    """Run one request and record it. A request whose kept-alive connection the server had just closed (gunicorn's
    keep-alive timeout racing the next request) is sent again once, as browsers do (counted in `recorder.resent`;
    the time includes both tries). For POSTs that is safe here: the tool never saw the lost try, and its forms are
    idempotent anyway (a quiz attempt is recorded once, a practice text is saved, not appended)."""
    started = time.perf_counter()
    try:
        try:
            resp: requests.Response = call()
        except requests.ConnectionError:
            if not idempotent:
                raise
            with recorder.lock:
                recorder.resent += 1
            resp = call()
    except requests.RequestException as exc:
        recorder.add(Sample(kind, time.perf_counter() - started, False, None, type(exc).__name__))
        return None
    count = resp.headers.get("X-Query-Count")
    ok = resp.status_code < 400
    cpu = getattr(resp, "bench_cpu_us", None)
    if cpu is None and resp.headers.get("X-CPU-Us"):
        cpu = int(resp.headers["X-CPU-Us"])
    recorder.add(
        Sample(
            kind, time.perf_counter() - started, ok, int(count) if count else None, str(resp.status_code), cpu
        )
    )
    return resp


def launch(stack: Stack, learner: Learner, course: str, recorder: Recorder) -> None:
    launch_url = stack.tool_url + "/lti/launch"
    sub = f"bench-learner-{learner.number}"

    def do() -> requests.Response:
        login = learner.http.get(
            stack.tool_url + "/lti/login",
            params={
                "iss": stack.platform_url,
                "login_hint": sub,
                "target_link_uri": launch_url,
                "lti_message_hint": "bench",
                "client_id": CLIENT_ID,
                "lti_deployment_id": DEPLOYMENT_ID,
            },
            allow_redirects=False,
            timeout=30,
        )
        query = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
        token = requests.post(
            stack.platform_url + "/sign",
            json={
                "sub": sub,
                "nonce": query["nonce"],
                "name": f"Person {learner.number}",
                "launch_url": launch_url,
                "course": course,
            },
            timeout=30,
        ).json()["id_token"]
        resp = learner.http.post(
            launch_url, data={"id_token": token, "state": query["state"]}, allow_redirects=False, timeout=30
        )
        resp.raise_for_status()
        page = learner.http.get(urljoin(stack.tool_url, resp.headers["Location"]), timeout=30)
        # the tool's CPU for the whole launch: login + launch POST + first page
        page.bench_cpu_us = sum(int(r.headers.get("X-CPU-Us", 0)) for r in (login, resp, page))  # type: ignore[attr-defined]
        return page

    page = timed(recorder, "launch (login+launch+first page)", do)
    if page is None or page.status_code != 200:
        raise RuntimeError(f"launch of learner {learner.number} failed")
    learner.base = page.url if page.url.endswith("/") else page.url.rsplit("/", 1)[0] + "/"
    found = CSRF.search(page.text)
    assert found
    learner.csrf = found.group(1)


def quiz_fields(html: str, rng: random.Random) -> list[tuple[str, str]]:
    """Random answers in the form's own terms (positions); about half the answers are right by chance."""
    attempt = ATTEMPT.search(html)
    assert attempt
    fields = [("versuch", attempt.group(1))]
    groups: dict[str, tuple[str, list[str]]] = {}
    for kind, name, value in CHOICE.findall(html):
        groups.setdefault(name, (kind, []))[1].append(value)
    for name, (kind, values) in groups.items():
        if kind == "radio":
            fields.append((name, rng.choice(values)))
        else:
            for value in rng.sample(values, rng.randint(1, len(values))):
                fields.append((name, value))
    for name, options in ORDERING.findall(html):
        selected = SELECTED.search(options)
        assert selected
        fields.append((name, selected.group(1)))
    return fields


def learner_steps(learner: Learner, course: Any, rng: random.Random) -> Iterator[tuple[str, str, Any]]:
    """The learner's way through the course, forever: (page kind, path, form data or None)."""
    while True:
        yield "overview", "", None
        for module in course.modules:
            yield "module", f"m/{module.id}/", None
            for lesson in module.lessons:
                yield "lesson", f"m/{module.id}/{lesson.id}", None
            for _ in range(rng.choice((1, 1, 2))):
                yield "quiz form", f"m/{module.id}/quiz", None
                yield "quiz submit", f"m/{module.id}/quiz", "QUIZ"
            if module.id not in learner.practice_done:
                yield "practice form", f"m/{module.id}/praxis", None
                yield (
                    "practice submit",
                    f"m/{module.id}/praxis",
                    {"text": practice_text(learner.number, module.practice.min_length)},
                )
                learner.practice_done.add(module.id)
            yield "exchange", f"m/{module.id}/austausch", None


def practice_text(number: int, min_length: int) -> str:
    """A practice answer just long enough for the module's minimum (the tool refuses shorter ones)."""
    sentence = f"Bench-Antwort von Lernendem {number}: so gehen wir in unserer Kommune vor. "
    return sentence * (min_length // len(sentence) + 1)


def step(learner: Learner, recorder: Recorder, rng: random.Random, last_page: dict[int, str]) -> None:
    assert learner.steps is not None
    kind, path, data = next(learner.steps)
    url = urljoin(learner.base, path)
    if data is None:
        resp = timed(recorder, kind, lambda: learner.http.get(url, timeout=60), idempotent=True)
        if resp is not None:
            last_page[learner.number] = resp.text
        return
    fields = quiz_fields(last_page.get(learner.number, ""), rng) if data == "QUIZ" else list(data.items())
    fields.append(("csrf_token", learner.csrf))
    resp = timed(
        recorder,
        kind,
        lambda: learner.http.post(url, data=fields, allow_redirects=False, timeout=60),
        idempotent=True,
    )
    if resp is not None and resp.status_code == 303:
        follow = "quiz result" if kind == "quiz submit" else "practice form (after save)"
        timed(
            recorder,
            follow,
            lambda: learner.http.get(urljoin(url, resp.headers["Location"]), timeout=60),
            idempotent=True,
        )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def report(recorder: Recorder, elapsed: float, launches: list[Sample]) -> None:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in recorder.samples:
        by_kind[sample.kind].append(sample)
    total = len(recorder.samples)
    errors = sum(not s.ok for s in recorder.samples)
    print()
    print(
        f"browsing: {total} requests in {elapsed:.1f} s = {total / elapsed:.1f} requests/s, errors: {errors}; "
        f"requests sent again after a dropped keep-alive connection: {recorder.resent}"
    )
    if errors:
        failed: dict[str, int] = defaultdict(int)
        for sample in recorder.samples:
            if not sample.ok:
                failed[f"{sample.kind}: {sample.status}"] += 1
        print("errors by page kind and status:", dict(failed))
    header = (
        f"{'page kind':28} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'SQL/page':>9} "
        f"{'CPU ms p50':>10} {'CPU ms p95':>10} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for kind, samples in [*sorted(by_kind.items()), ("launch (login+launch+first page)", launches)]:
        times = [s.seconds * 1000 for s in samples]
        queries = [s.queries for s in samples if s.queries is not None]
        sql = "-" if not queries else f"{statistics.mean(queries):.1f}"
        if queries and min(queries) != max(queries):
            sql += f" ({min(queries)}-{max(queries)})"
        cpu = [s.cpu_us / 1000 for s in samples if s.cpu_us is not None]
        print(
            f"{kind:28} {len(samples):>6} {percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f} "
            f"{max(times, default=0):>8.1f} {sql:>9} {percentile(cpu, 50):>10.2f} {percentile(cpu, 95):>10.2f} "
            f"{sum(not s.ok for s in samples):>6}"
        )
    pages = [s.cpu_us / 1000 for s in recorder.samples if s.cpu_us is not None]
    print(f"median in-app CPU per learner page (all kinds): {percentile(pages, 50):.2f} ms")


def cpu_sample(tool_root: int, platform_pid: int, args: argparse.Namespace) -> dict[str, float]:
    import procinfo

    busy, _ = procinfo.system_cpu()
    return {
        "wall": time.monotonic(),
        "busy": busy,
        "tool": procinfo.cpu_seconds(procinfo.tree(tool_root)),
        "platform": procinfo.cpu_seconds([platform_pid]),
        "driver": time.process_time(),
        "postgres": procinfo.cpu_seconds(procinfo.pids_named("postgres")) if not args.sqlite else 0.0,
    }


def cpu_report(before: dict[str, float], after: dict[str, float], requests_done: int) -> None:
    d = {k: after[k] - before[k] for k in before}
    other = (d["busy"] - d["tool"] - d["platform"] - d["driver"] - d["postgres"]) / max(d["wall"], 1e-9)
    print(
        f"tool CPU per request (all gunicorn processes, /proc): {1000 * d['tool'] / max(requests_done, 1):.2f} ms; "
        f"PostgreSQL {1000 * d['postgres'] / max(requests_done, 1):.2f} ms; "
        f"other: {other:.2f} cores busy with other programs during the browsing phase"
    )


def run(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from lti_tool.course.loader import load_course

    course = load_course(Path(args.content_dir) / args.course)
    name = benchenv.db_name("pages", str(os.getpid()))
    if not args.sqlite:
        database(args.admin_url, name, "create")
    stack: Stack | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="nama-bench-pages-") as tmp:
            url = f"sqlite:///{tmp}/tool.db" if args.sqlite else db_url(args.admin_url, name)
            stack = start_stack(args, url, Path(tmp))
            print(
                f"gunicorn -w {args.workers} --threads {args.threads} on "
                f"{'SQLite' if args.sqlite else f'PostgreSQL ({name})'}; "
                f"{args.learners} learners, {args.concurrency} at a time, {args.duration:.0f} s; "
                f"course {course.id!r} ({len(course.modules)} modules) from {args.content_dir}"
            )
            learners = [Learner(n, requests.Session()) for n in range(args.learners)]
            launch_recorder = Recorder()
            started = time.perf_counter()
            with_launch: queue.Queue[Learner] = queue.Queue()
            for learner in learners:
                with_launch.put(learner)

            def launch_worker() -> None:
                while True:
                    try:
                        learner = with_launch.get_nowait()
                    except queue.Empty:
                        return
                    launch(stack, learner, course.id, launch_recorder)  # type: ignore[arg-type]

            threads = [threading.Thread(target=launch_worker) for _ in range(args.concurrency)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            print(f"launched {len(learners)} learners in {time.perf_counter() - started:.1f} s")

            recorder = Recorder()
            ready: queue.Queue[Learner] = queue.Queue()
            seed = random.Random(args.seed)
            for learner in learners:
                learner.steps = learner_steps(learner, course, random.Random(seed.random()))
                ready.put(learner)
            stop_at = time.monotonic() + args.duration
            last_page: dict[int, str] = {}

            def browse_worker(rng: random.Random) -> None:
                while time.monotonic() < stop_at:
                    learner = ready.get()
                    try:
                        step(learner, recorder, rng, last_page)
                    finally:
                        ready.put(learner)

            tool_root = stack.procs[-1].pid
            before = cpu_sample(tool_root, stack.procs[0].pid, args)
            began = time.perf_counter()
            threads = [
                threading.Thread(target=browse_worker, args=(random.Random(seed.random()),))
                for _ in range(args.concurrency)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            after = cpu_sample(tool_root, stack.procs[0].pid, args)
            report(recorder, time.perf_counter() - began, launch_recorder.samples)
            cpu_report(before, after, len(recorder.samples))
            stack.stop()
            log = (Path(tmp) / "gunicorn.log").read_text(errors="replace")
            if "Traceback" in log or "ERROR" in log:
                print("\ngunicorn log had errors:\n" + log[-3000:])
    finally:
        if stack:
            stack.stop()
        if not args.sqlite:
            database(args.admin_url, name, "drop")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of browsing (after the launches)"
    )
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at a time")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--redis-url", default="", help="optional: launch store in Redis")
    parser.add_argument("--content-dir", type=Path, default=default_content_dir())
    parser.add_argument("--course", default="grundlagenkurs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--platform-process", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.platform_process:
        run_platform(args.platform_process)
        return
    run(args)


if __name__ == "__main__":
    main()
