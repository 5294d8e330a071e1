"""The tool's CPU per learner page and per launch, in-process and sequential: where the time of each page kind goes.

    .venv/bin/python bench/profile_pages.py --learners 10 --rounds 2                 # CPU and SQL per page kind
    .venv/bin/python bench/profile_pages.py --learners 10 --rounds 2 --cprofile 40    # + the top 40 functions
    .venv/bin/python bench/profile_pages.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/profile_pages.py --learners 6 --calls    # + Python function calls per page kind
    .venv/bin/python bench/profile_pages.py --learners 10 --rounds 0 --instructions   # + instructions (valgrind)

The app runs in this process (Flask's test client, no HTTP server); a platform process (bench/pages.py
--platform-process) signs the id_tokens. Each of N learners launches (login, launch POST, first page), then walks
the course like bench/pages.py's learners for --rounds passes over the overview, modules, lessons, quiz and
practice pages. Per page kind it prints the median of the tool's `X-CPU-Us` (the serving thread's CPU time inside
the app, as bench/pages.py reports it under gunicorn; on a machine shared with other programs far steadier than
wall time, but still not free of their effect on caches and clock) and the SQL statements per request.

--instructions: the whole run under valgrind's callgrind (~50x slower; keep --learners and --rounds small), each
measured request's instructions counted on their own (collection switched on around the test client's call only,
through callgrind's client requests from a small C helper built with cc), and their median per page kind printed
beside the rest: a figure that does not depend on the machine's load, for A/B comparisons of small changes.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from werkzeug.datastructures import MultiDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages

ROOT = Path(__file__).resolve().parent.parent


class Callgrind:
    """Callgrind's client requests (valgrind/callgrind.h) through a C helper built once into a temporary folder."""

    SOURCE = """
#include <valgrind/callgrind.h>
void nama_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void nama_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
void nama_instrument(void) { CALLGRIND_START_INSTRUMENTATION; }
"""

    def __init__(self, folder: Path) -> None:
        import ctypes

        source, lib = folder / "nama_cg.c", folder / "nama_cg.so"
        source.write_text(self.SOURCE)
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(lib), str(source)], check=True)
        self.lib = ctypes.CDLL(str(lib))
        self.lib.nama_dump.argtypes = [ctypes.c_char_p]
        self.instrumenting = False

    def start(self) -> None:
        """Instrument from here on (the start-up and the warm-up ran uninstrumented, several times faster)."""
        if not self.instrumenting:
            self.lib.nama_instrument()
            self.instrumenting = True

    def measure(self, kind: str, call: Any) -> Any:
        self.lib.nama_toggle()
        try:
            return call()
        finally:
            self.lib.nama_toggle()
            self.lib.nama_dump(kind.encode())

    @staticmethod
    def totals(out_prefix: str) -> dict[str, list[int]]:
        """Instructions per dump (one per measured request), by the dump's label (the page kind)."""
        found: dict[str, list[int]] = defaultdict(list)
        for path in sorted(Path(out_prefix).parent.glob(Path(out_prefix).name + ".*")):
            label, total = "", None
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("desc: Trigger: Client Request: "):
                    label = line.removeprefix("desc: Trigger: Client Request: ")
                elif line.startswith(("totals:", "summary:")):
                    total = int(line.split()[1])
            if label and total is not None:
                found[label].append(total)
        return found


def under_callgrind(argv: list[str]) -> int:
    """Run this script again under callgrind with the same arguments; print its report and the instructions."""
    with tempfile.TemporaryDirectory(prefix="nama-callgrind-") as tmp:
        out = f"{tmp}/cg.out"
        env = dict(os.environ, NAMA_CALLGRIND_DIR=tmp)
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no"]
        cmd.append(f"--callgrind-out-file={out}")
        done = subprocess.run([*cmd, sys.executable, *argv], env=env, stderr=subprocess.DEVNULL)
        if done.returncode != 0:
            return done.returncode
        found = Callgrind.totals(out)
    print(f"\n{'page kind':34} {'count':>6} {'instructions p50':>17} {'min':>12} {'max':>12}")
    for kind in sorted(found, key=lambda k: (k.startswith(LAUNCH_KINDS), k)):
        values = found[kind]
        print(
            f"{kind:34} {len(values):>6} {statistics.median(values):>17,.0f} {min(values):>12,} {max(values):>12,}"
        )
    for prefix in LAUNCH_KINDS:
        launch_kinds = [f"{prefix}: {step}" for step in ("login", "POST", "first page")]
        if all(k in found for k in launch_kinds):
            whole = [sum(v) for v in zip(*(found[k] for k in launch_kinds), strict=True)]
            print(
                f"{prefix + ' (login+launch+first page)':34} {len(whole):>6} {statistics.median(whole):>17,.0f}"
            )
    return 0


class Walk:
    """One learner in the test client: request, record CPU and SQL per page kind."""

    def __init__(
        self,
        client: Any,
        cpu: dict[str, list[int]],
        sql: dict[str, list[int]],
        prof: Any,
        calls: dict[str, list[int]] | None = None,
        kind_prof: tuple[str, Any] | None = None,
        server: Server | None = None,
    ) -> None:
        self.client = client
        self.server = server
        self.kind_prof = kind_prof
        self.calls = calls
        self.cpu = cpu
        self.sql = sql
        self.prof = prof
        self.base = ""
        self.csrf = ""
        self.last = ""
        self.callgrind: Callgrind | None = None

    def request(self, kind: str, method: str, url: str, **kwargs: Any) -> Any:
        counter = cProfile.Profile() if self.calls is not None else None
        only = self.kind_prof[1] if self.kind_prof is not None and self.kind_prof[0] == kind else None
        if only is not None:
            only.enable()
        if self.prof is not None:
            self.prof.enable()
        if counter is not None:
            counter.enable()
        before = self.server.sample() if self.server is not None else None
        if self.callgrind is not None:
            resp = self.callgrind.measure(kind, lambda: self.client.open(url, method=method, **kwargs))
        else:
            resp = self.client.open(url, method=method, **kwargs)
        if self.server is not None and before is not None:
            self.server.record(kind, before)
        if counter is not None:
            counter.disable()
            assert self.calls is not None
            self.calls[kind].append(sum(entry.callcount for entry in counter.getstats()))
        if self.prof is not None:
            self.prof.disable()
        if only is not None:
            only.disable()
        assert resp.status_code < 400, (kind, url, resp.status_code, resp.get_data(as_text=True)[:300])
        self.cpu[kind].append(int(resp.headers["X-CPU-Us"]) * 1000)
        self.sql[kind].append(int(resp.headers.get("X-Query-Count", -1)))
        return resp


class Server:
    """PostgreSQL's side of each request (--server): the CPU time of the database's backends (from
    /proc/<pid>/schedstat, nanoseconds) and the WAL the request wrote (pg_current_wal_insert_lsn, read through a
    connection of its own to another database; WAL written by other databases of the server meanwhile counts too)."""

    def __init__(self, admin_url: str, dbname: str) -> None:
        import psycopg

        self.conn = psycopg.connect(admin_url, autocommit=True)
        self.dbname = dbname
        self.pids: list[int] = []
        self.cpu: dict[str, list[int]] = defaultdict(list)
        self.wal: dict[str, list[int]] = defaultdict(list)
        self.background: dict[int, int] = {}

    def find_backends(self) -> None:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.dbname,)
        )
        self.pids = sorted(r[0] for r in rows)
        row = self.conn.execute(
            "SELECT oid, pg_current_wal_insert_lsn() FROM pg_database WHERE datname = %s", (self.dbname,)
        ).fetchone()
        assert row is not None
        self.oid, self.start_lsn = row
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'")
        self.background = {r[0]: _run_ns(r[0]) for r in rows}

    def background_ns(self) -> dict[str, int]:
        names = {r[0]: r[1] for r in self.conn.execute("SELECT pid, backend_type FROM pg_stat_activity")}
        return {names.get(pid, str(pid)): _run_ns(pid) - ns for pid, ns in self.background.items()}

    def sample(self) -> tuple[int, int]:
        lsn = self.conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')").fetchone()
        assert lsn is not None
        return sum(_run_ns(pid) for pid in self.pids), int(lsn[0])

    def record(self, kind: str, before: tuple[int, int]) -> None:
        after = self.sample()
        self.cpu[kind].append(after[0] - before[0])
        self.wal[kind].append(after[1] - before[1])

    def prepared(self, engine: Any) -> None:
        """How many statement runs of the app's pooled connections used a prepared statement, and their plans."""
        from sqlalchemy import text

        conns = [engine.connect() for _ in range(engine.pool.checkedin())]
        runs = statements = generic = 0
        for conn in conns:
            for row in conn.execute(text("SELECT generic_plans, custom_plans FROM pg_prepared_statements")):
                statements += 1
                generic += row[0]
                runs += row[0] + row[1]
            conn.rollback()
            conn.close()
        print(
            f"prepared statements on the app's {len(conns)} connections: {statements}, run {runs} times ({generic} with a generic plan)"
        )

    def report(self, launches: int) -> None:
        print(
            f"\n{'PostgreSQL per request':34} {'count':>6} {'backend CPU us p50':>18} {'mean':>8} {'WAL bytes p50':>14} {'mean':>8}"
        )
        for kind in self.cpu:
            cpu, wal = self.cpu[kind], self.wal[kind]
            print(
                f"{kind:34} {len(cpu):>6} {statistics.median(cpu) / 1e3:>18.0f} {statistics.mean(cpu) / 1e3:>8.0f} "
                f"{statistics.median(wal):>14.0f} {statistics.mean(wal):>8.0f}"
            )
        launch_kinds = [k for k in self.cpu if k.startswith("launch: ")]
        if launch_kinds:
            per_launch = sum(sum(self.cpu[k]) for k in launch_kinds) / max(launches, 1)
            wal = sum(sum(self.wal[k]) for k in launch_kinds) / max(launches, 1)
            print(f"full launch: backend CPU {per_launch / 1e3:.0f} us, WAL {wal:.0f} bytes (means)")
        end = self.conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
        assert end is not None
        print(f"database oid {self.oid}, WAL {self.start_lsn}..{end[0]} (pg_waldump --start/--end)")
        for name, ns in sorted(self.background_ns().items()):
            print(f"  {name}: {ns / 1e6:.1f} ms over the measured phase")


def _run_ns(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except OSError:
        return 0


# The page kinds' prefixes of a learner's first launch and (--returning) their second.
LAUNCH_KINDS = ("launch", "relaunch")


def launch(walk: Walk, platform_url: str, number: int, course: str, prefix: str = "launch") -> None:
    sub = f"bench-learner-{number}"
    launch_url = "http://localhost/lti/launch"
    login = walk.request(
        f"{prefix}: login",
        "GET",
        "/lti/login",
        query_string={
            "iss": platform_url,
            "login_hint": sub,
            "target_link_uri": launch_url,
            "lti_message_hint": "bench",
            "client_id": pages.CLIENT_ID,
            "lti_deployment_id": pages.DEPLOYMENT_ID,
        },
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
    token = requests.post(
        platform_url + "/sign",
        json={
            "sub": sub,
            "nonce": query["nonce"],
            "name": f"Person {number}",
            "launch_url": launch_url,
            "course": course,
        },
        timeout=30,
    ).json()["id_token"]
    resp = walk.request(
        f"{prefix}: POST", "POST", "/lti/launch", data={"id_token": token, "state": query["state"]}
    )
    assert resp.status_code == 303, resp.status_code
    page = walk.request(f"{prefix}: first page", "GET", resp.headers["Location"])
    walk.cpu[f"{prefix} (login+launch+first page)"].append(
        sum(walk.cpu[f"{prefix}: {k}"][-1] for k in ("login", "POST", "first page"))
    )
    walk.base = urlsplit(page.request.url).path
    walk.base = walk.base if walk.base.endswith("/") else walk.base.rsplit("/", 1)[0] + "/"
    walk.last = page.get_data(as_text=True)
    found = pages.CSRF.search(walk.last)
    assert found
    walk.csrf = found.group(1)


def browse(walk: Walk, steps: Any, rng: random.Random) -> None:
    kind, path, data = next(steps)
    url = urljoin(walk.base, path)
    if data is None:
        walk.last = walk.request(kind, "GET", url).get_data(as_text=True)
        return
    fields = pages.quiz_fields(walk.last, rng) if data == "QUIZ" else list(data.items())
    fields.append(("csrf_token", walk.csrf))
    resp = walk.request(kind, "POST", url, data=MultiDict(fields))
    assert resp.status_code == 303, (kind, resp.status_code)
    follow = "quiz result" if kind == "quiz submit" else "practice form (after save)"
    walk.last = walk.request(follow, "GET", urljoin(url, resp.headers["Location"])).get_data(as_text=True)


def steps_per_round(course: Any) -> int:
    """Page requests of one pass over the course (the quiz taken once), for --rounds."""
    per_module = [2 + len(m.lessons) + 2 + 2 + 1 for m in course.modules]
    return 1 + sum(per_module)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=10)
    parser.add_argument("--rounds", type=float, default=1.0, help="passes over the course per learner")
    parser.add_argument("--warmup", type=int, default=2, help="learners launched and walked before measuring")
    parser.add_argument(
        "--database-url", default="", help="a PostgreSQL server URL (a fresh database is made)"
    )
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--content-dir", type=Path, default=pages.default_content_dir())
    parser.add_argument("--course", default="grundlagenkurs")
    parser.add_argument(
        "--cprofile", type=int, default=0, help="print the top N functions by cumulative time"
    )
    parser.add_argument("--sort", default="cumulative", help="pstats sort key for --cprofile (e.g. tottime)")
    parser.add_argument(
        "--calls",
        action="store_true",
        help="count the Python function calls of each request (the same on a busy machine as on a quiet one; "
        "the CPU figures are inflated by the counting)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="run under valgrind's callgrind and print the instructions per request of each page kind",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--py-spy",
        default="",
        metavar="FILE",
        help="record the measured phase with py-spy (raw format) into FILE",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the checkout whose tool to run (A/B against another worktree)",
    )
    parser.add_argument(
        "--pstats-of",
        default="",
        metavar="KIND:FILE",
        help="cProfile only the requests of this page kind (e.g. 'launch: POST') into FILE (pstats format; timed by the thread's CPU time, not wall time)",
    )
    parser.add_argument(
        "--server",
        action="store_true",
        help="with --database-url: PostgreSQL's backend CPU and WAL bytes per page kind (this machine's server only)",
    )
    parser.add_argument(
        "--sql-of", default="", metavar="KIND", help="print the SQL of one request of this kind"
    )
    parser.add_argument(
        "--returning",
        action="store_true",
        help="each measured learner launches again after its walk ('relaunch: …' kinds), having read a lesson "
        "first when the walk read none: a returning learner's launch",
    )
    args = parser.parse_args()
    if args.instructions and not os.environ.get("NAMA_CALLGRIND_DIR"):
        sys.exit(under_callgrind(sys.argv))
    callgrind = Callgrind(Path(os.environ["NAMA_CALLGRIND_DIR"])) if args.instructions else None

    sys.path.insert(0, str(args.root))
    import logging

    from lti_tool import create_app
    from lti_tool.course.loader import load_course
    from lti_tool.db import session_scope, upgrade
    from lti_tool.lti.platforms import PlatformSpec, add_platform

    course = load_course(args.content_dir / args.course)
    port = pages.free_port()
    platform_url = f"http://127.0.0.1:{port}"
    platform = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parent / "pages.py"), "--platform-process", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    dbname = pages.benchenv.db_name("profile", str(os.getpid()))
    try:
        with tempfile.TemporaryDirectory(prefix="nama-profile-pages-") as tmp:
            if args.database_url:
                admin = args.database_url.replace("postgresql+psycopg://", "postgresql://")
                pages.database(admin, dbname, "create")
                url = pages.db_url(admin, dbname)
                upgrade(url)
            else:
                url = f"sqlite:///{tmp}/tool.db"
            config = {
                "INSTANCE_PATH": tmp,
                "DATABASE_URL": url,
                "SECRET_KEY": secrets.token_urlsafe(32),
                "BASE_URL": "http://localhost",
                "CONTENT_DIR": str(args.content_dir),
                "DEFAULT_COURSE": args.course,
                "ENV": "development",
                "BENCH_COUNT_QUERIES": True,
                "EMBEDDED_WORKER": False,
                "REDIS_URL": args.redis_url,
            }
            app = create_app(config)
            logging.getLogger().setLevel(logging.WARNING)
            with session_scope(app, write=True) as s:
                add_platform(
                    s,
                    PlatformSpec(
                        issuer=platform_url,
                        client_id=pages.CLIENT_ID,
                        auth_login_url=platform_url + "/auth",
                        auth_token_url=platform_url + "/token",
                        jwks_url=platform_url + "/jwks",
                        name="Bench platform",
                    ),
                    pages.DEPLOYMENT_ID,
                )
            pages.wait_for(platform_url + "/jwks")
            if callgrind is not None:
                # Under valgrind a run takes minutes: the per-process caches' minute (registrations, platform
                # origins, key sets) would run out during it and add reads to some launches, not others.
                from lti_tool.lti.keysets import JwksCache
                from lti_tool.lti.toolconf import RegistrationCache

                app.extensions["nama_registrations"] = RegistrationCache(ttl=86400)
                app.extensions["nama_jwks_cache"] = JwksCache(ttl=86400)
                app.extensions["nama_platform_origins"]._cache.ttl = 86400
                # Likewise the pool's ping of a connection idle for more than a few seconds (a SELECT 1 round trip
                # in some requests and not others: ~0.3M instructions of noise on PostgreSQL, helper post's step 17).
                from lti_tool import db as tool_db

                tool_db.PING_AFTER_IDLE_SECONDS = 86400.0
            import gc

            gc.collect()
            gc.freeze()  # as app.py does for gunicorn: collections no longer walk the loaded app
            if args.sql_of:
                show_sql_of(app, args.sql_of)
            prof = cProfile.Profile() if args.cprofile else None
            kind_prof: tuple[str, Any] | None = None
            if args.pstats_of:
                kind, _, _file = args.pstats_of.rpartition(":")
                kind_prof = (kind, cProfile.Profile(time.thread_time))  # CPU time: steadier under load
            spy: subprocess.Popen[bytes] | None = None
            cpu: dict[str, list[int]] = defaultdict(list)
            sql: dict[str, list[int]] = defaultdict(list)
            calls: dict[str, list[int]] | None = defaultdict(list) if args.calls else None
            server = Server(admin, dbname) if args.server and args.database_url else None
            seed = random.Random(args.seed)
            per_learner = int(args.rounds * steps_per_round(course))
            for number in range(args.warmup + args.learners):
                measuring = number >= args.warmup
                if measuring and server is not None and not server.pids:
                    server.find_backends()
                if measuring and args.py_spy and spy is None:
                    spy = start_py_spy(args.py_spy)
                walk = Walk(
                    app.test_client(),
                    cpu if measuring else defaultdict(list),
                    sql if measuring else defaultdict(list),
                    prof if measuring else None,
                    (calls if measuring else defaultdict(list)) if calls is not None else None,
                    kind_prof if measuring else None,
                    server if measuring else None,
                )
                walk.callgrind = callgrind if measuring else None
                if measuring and callgrind is not None:
                    callgrind.start()
                launch(walk, platform_url, number, course.id)
                learner = pages.Learner(number, requests.Session())
                steps = pages.learner_steps(learner, course, random.Random(seed.random()))
                rng = random.Random(seed.random())
                for _ in range(per_learner if measuring else steps_per_round(course)):
                    browse(walk, steps, rng)
                if measuring and args.returning:
                    if per_learner == 0:  # unmeasured: progress for the first page to show
                        first = course.modules[0]
                        lesson = walk.client.get(urljoin(walk.base, f"m/{first.id}/{first.lessons[0].id}"))
                        assert lesson.status_code == 200, lesson.status_code
                    launch(walk, platform_url, number, course.id, prefix="relaunch")
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            report(cpu, sql, calls)
            if server is not None:
                server.report(args.learners)
                server.prepared(app.extensions["nama_db"].engine)
            if kind_prof is not None:
                kind_prof[1].dump_stats(args.pstats_of.rpartition(":")[2])
            if prof is not None:
                print()
                pstats.Stats(prof).sort_stats(args.sort).print_stats(args.cprofile)
            app.extensions["nama_db"].dispose()
    finally:
        platform.terminate()
        platform.wait(10)
        if args.database_url:
            pages.database(
                args.database_url.replace("postgresql+psycopg://", "postgresql://"), dbname, "drop"
            )


def start_py_spy(out: str) -> subprocess.Popen[bytes]:
    spy = subprocess.Popen(
        [
            shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-p",
            str(os.getpid()),
            "-r",
            "400",
            "-f",
            "raw",
            "-o",
            out,
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached
    return spy


def show_sql_of(app: Any, kind: str) -> None:
    """Print the statements of the first request of `kind` (on stderr, as they run)."""
    from flask import has_request_context, request
    from sqlalchemy import event

    state = {"kind": "", "done": False}
    engine = app.extensions["nama_db"].engine

    @event.listens_for(engine, "before_cursor_execute")
    def _show(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if has_request_context() and request.environ.get("bench.kind") == kind and not state["done"]:
            print("SQL", " ".join(statement.split())[:400], file=sys.stderr)

    original = Walk.request

    def request_with_kind(self: Walk, k: str, method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("environ_base", {})["bench.kind"] = k
        resp = original(self, k, method, url, **kwargs)
        if k == kind and self.prof is None and state["kind"] == "":
            state["kind"] = k
        if k == kind:
            state["done"] = True
            print(f"-- end of {k}: {resp.status_code}", file=sys.stderr)
        return resp

    Walk.request = request_with_kind  # type: ignore[method-assign]


def report(cpu: dict[str, list[int]], sql: dict[str, list[int]], calls: dict[str, list[int]] | None) -> None:
    print(
        f"{'page kind':34} {'count':>6} {'CPU ms p50':>10} {'CPU ms mean':>11} {'SQL/page':>9}"
        + (f" {'calls p50':>10}" if calls else "")
    )
    launch_kinds = [k for k in cpu if k.startswith(LAUNCH_KINDS)]
    for kind in [*sorted(k for k in cpu if k not in launch_kinds), *launch_kinds]:
        values = [v / 1e6 for v in cpu[kind]]
        queries = sql.get(kind) or []
        prefix, together, _ = kind.partition(" (")
        parts = [f"{prefix}: {step}" for step in ("login", "POST", "first page")]
        if together:  # the three requests' statements together (was printed as 0.0)
            queries = [sum(q) for q in zip(*(sql.get(k) or [] for k in parts), strict=False)]
        counted = (calls or {}).get(kind)
        if together and calls:
            counted = [sum(c) for c in zip(*(calls[k] for k in parts), strict=True)]
        print(
            f"{kind:34} {len(values):>6} {statistics.median(values):>10.2f} {statistics.mean(values):>11.2f} "
            f"{(statistics.mean(queries) if queries else 0):>9.1f}"
            + (f" {statistics.median(counted):>10.0f}" if counted else "")
        )
    page_values = [v / 1e6 for k, vs in cpu.items() if not k.startswith(LAUNCH_KINDS) for v in vs]
    if not page_values:  # --rounds 0: launches only
        return
    print(f"median CPU per learner page (all kinds): {statistics.median(page_values):.2f} ms")
    if calls:
        page_calls = [v for k, vs in calls.items() if not k.startswith(LAUNCH_KINDS) for v in vs]
        print(
            f"median Python function calls per learner page (all kinds): {statistics.median(page_calls):.0f}"
        )


if __name__ == "__main__":
    main()
