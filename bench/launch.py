"""Full-launch benchmark: our tool and the peer tools, driven by one platform, back to back in one run.

    /work/main/.venv/bin/python bench/launch.py -n 500 -c 16 --repeat 3
    /work/main/.venv/bin/python bench/launch.py -n 500 -c 16 --targets ours:sqlite:w2,pylti1p3:g2

A full launch = GET the tool's OIDC login -> platform /auth (form_post page) -> POST id_token + state to the
tool's launch URL -> redirects to the first page, which must be 200 and contain the tool's marker (our tool:
the course title; the peers: "LTI launch OK"). See driver.py for the details and lti_platform.py for the
platform, which runs in its own process and serves every tool with the same key and the same claims.

Targets (comma-separated; every round runs each of them once, in this order, on a fresh database/state):
  ours:<sqlite|postgres>[+redis]:w<W>[t<T>]   our tool, gunicorn -w W [--threads T], fresh instance/database
  pylti1p3:dev | pylti1p3:g<W>[+redis]       the pylti1p3 peer: Flask dev server, or up.sh --gunicorn W
  ltijs:<sqlite|postgres>                    the ltijs peer (one node process)
Results: a table on stdout (medians over the rounds, ratios ours / peer) and JSON in bench/results/.

Side by side in slices (--slices K, K > 1): on a 2-core VM the machine's speed can swing by 2x within a minute,
so targets measured ~30 s apart are compared with the swing as much as with each other. With K slices every round
starts all targets' servers (each on its fresh database/state, a further target of the same kind on a free port
with a client_id of its own), warms each up, then measures each target's n launches in K slices of n/K,
alternating targets slice by slice (A1 B1 A2 B2 ...; the first target rotated per round), each slice after the
quiet-machine wait, then stops them all. Every server still serves n launches (the pylti1p3 peer's file cache
grows with them). The report gives per slice what it gives per round without slices, medians over all slices, and
ratios paired by slice (ours' slice k ÷ the peer's slice k of the same round, median over all pairs). The idle
servers' CPU while another target is measured is shown per slice ("idle", cores); it counts in "other" only.
    /work/main/.venv/bin/python bench/launch.py -n 300 -c 16 --repeat 4 --slices 3 \
        --targets ours:postgres:w2,pylti1p3:g2,ours:sqlite:w2
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform as pyplatform
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

import benchenv
import driver
import pgcpu
import procinfo
import slices

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS_UP = Path(os.environ.get("PEERS_UP", str(ROOT.parent / "shared" / "peers" / "up.sh")))
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_TARGETS = ",".join(
    [
        "ours:sqlite:w1t4",
        "ours:sqlite:w2",
        "ours:sqlite:w4",
        "ours:sqlite:w2t4",
        "ours:postgres:w1t4",
        "ours:postgres:w2",
        "ours:postgres:w4",
        "ours:postgres:w2t4",
        "pylti1p3:dev",
        "pylti1p3:g2",
        "pylti1p3:g4",
        "ltijs:sqlite",
        "ltijs:postgres",
    ]
)
OURS_CLIENT = "nama-bench"
PYLTI_CLIENT = "peer-pylti1p3-client"
LTIJS_CLIENT = "peer-ltijs-client"
PEER_MARKER = "LTI launch OK"
# login, launch and JWKS paths of each kind of target
PATHS = {
    "ours": ("/lti/login", "/lti/launch", "/.well-known/jwks.json"),
    "pylti1p3": ("/login", "/launch", "/jwks"),
    "ltijs": ("/login", "/launch", "/jwks"),
}


# --------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class TargetSpec:
    name: str
    kind: str  # ours | pylti1p3 | ltijs
    db: str = ""  # sqlite | postgres | "" (pylti1p3 keeps no database)
    redis: bool = False
    workers: int = 1
    threads: int = 0  # 0: gunicorn's default sync worker
    dev_server: bool = False

    @property
    def form(self) -> str:
        if self.kind == "ltijs" or self.dev_server or self.workers == 1:
            return "single process"
        return f"{self.workers} processes"


def parse_target(text: str) -> TargetSpec:
    t = text.strip()
    m = re.fullmatch(r"ours:(sqlite|postgres)(\+redis)?:w(\d+)(?:t(\d+))?", t)
    if m:
        return TargetSpec(t, "ours", m[1], bool(m[2]), int(m[3]), int(m[4] or 0))
    m = re.fullmatch(r"pylti1p3:(?:(dev)|g(\d+))(\+redis)?", t)
    if m:
        if m[1]:
            return TargetSpec(t, "pylti1p3", "", bool(m[3]), 1, 0, dev_server=True)
        return TargetSpec(t, "pylti1p3", "", bool(m[3]), int(m[2]))
    m = re.fullmatch(r"ltijs:(sqlite|postgres)", t)
    if m:
        return TargetSpec(t, "ltijs", m[1])
    raise argparse.ArgumentTypeError(f"unknown target {t!r} (see --help)")


@dataclass(frozen=True)
class Endpoint:
    """Where one target listens on 127.0.0.1, and its client_id at the platform."""

    port: int
    client: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def kind_endpoints(args: argparse.Namespace) -> dict[str, Endpoint]:
    return {
        "ours": Endpoint(args.ours_port, OURS_CLIENT),
        "pylti1p3": Endpoint(args.pylti_port, PYLTI_CLIENT),
        "ltijs": Endpoint(args.ltijs_port, LTIJS_CLIENT),
    }


def target_endpoints(specs: list[TargetSpec], args: argparse.Namespace) -> dict[str, Endpoint]:
    """Each target's port and client_id. One target at a time (--slices 1): the targets of a kind share the kind's
    port and client_id. Side by side in slices every server of a round runs at once, so the first target of a
    kind keeps the kind's port and the others get a free port (of NAMA_BENCH_PORTS) and a client_id of their own
    (the platform pins a client's launch URL)."""
    kinds = kind_endpoints(args)
    taken = {args.platform_port, *(e.port for e in kinds.values())}
    seen: dict[str, int] = {}
    out: dict[str, Endpoint] = {}
    for spec in specs:
        index = seen[spec.kind] = seen.get(spec.kind, -1) + 1
        endpoint = kinds[spec.kind]
        if index and args.slices > 1:
            port = benchenv.free_port()
            while port in taken:
                port = benchenv.free_port()
            endpoint = Endpoint(port, f"{endpoint.client}-{index + 1}")
        out[spec.name] = endpoint
    return out


# --------------------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def log_summary(summary: dict[str, Any]) -> None:
    log(
        f"  {summary['launches_per_s']:.1f}/s p50 {summary['p50_ms']:.0f} p95 {summary['p95_ms']:.0f} ms, "
        f"ok {summary['ok']} err {summary['errors']}, tool CPU "
        f"{summary['sampled']['tool_cpu_ms_per_launch']:.1f} ms/launch, other load "
        f"{summary['sampled']['other_cpu_cores']:.2f} cores"
        + (f" first error: {summary['first_errors'][0][:200]}" if summary["first_errors"] else "")
    )


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_http_ok(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s ({last})")


def run_checked(cmd: list[str], env: dict[str, str], cwd: Path, logfile: Path) -> None:
    with logfile.open("ab") as out:
        out.write(f"$ {shlex.join(cmd)}\n".encode())
        out.flush()
        rc = subprocess.call(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({rc}); see {logfile}")


def pg_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def redis_delete_prefix(prefix: str) -> int:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=prefix + "*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i : i + 500])
    return len(keys)


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM to the process group we started (start_new_session), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def content_dir() -> Path:
    real = ROOT / "content" / "grundlagenkurs"
    return real.parent if (real / "course.toml").exists() else ROOT / "tests" / "fixtures" / "content"


def course_title(content: Path, course: str = "grundlagenkurs") -> str:
    with (content / course / "course.toml").open("rb") as f:
        return str(tomllib.load(f)["title"])


# --------------------------------------------------------------------------------------- servers


@dataclass
class Served:
    """A running tool: the process we started, how to reach it, what it took to set up, its PostgreSQL database
    ("" without one)."""

    proc: subprocess.Popen[bytes]
    target: driver.Target
    command: str
    setup: list[str] = field(default_factory=list)
    database: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Running:
    """A target's server ready to be measured: workers booted, how long starting and booting took."""

    spec: TargetSpec
    served: Served
    startup_s: float
    settle_s: float

    @property
    def root(self) -> int:
        return self.served.proc.pid


class Bench:
    def __init__(self, args: argparse.Namespace, specs: list[TargetSpec]) -> None:
        self.args = args
        self.platform_url = f"http://127.0.0.1:{args.platform_port}"
        self.content = Path(args.content_dir) if args.content_dir else content_dir()
        self.specs = specs
        self.endpoints = target_endpoints(specs, args)
        self.python = Path(sys.executable)
        self.gunicorn = self.python.parent / "gunicorn"
        self.workdir = Path(tempfile.mkdtemp(prefix="nama-bench-"))
        self.platform_pid = 0

    # --- the platform ---------------------------------------------------------------------------

    def platform_command(self) -> list[str]:
        """The platform with one client per kind of target, and one more per target with its own client_id."""
        tools: dict[str, str] = {}
        kinds = kind_endpoints(self.args)
        specs = {spec.name: spec for spec in self.specs}
        pairs = [
            *((kind, e) for kind, e in kinds.items()),
            *((specs[n].kind, e) for n, e in self.endpoints.items()),
        ]
        for kind, endpoint in pairs:
            tools.setdefault(
                endpoint.client, ",".join([endpoint.client, *(endpoint.url + path for path in PATHS[kind])])
            )
        cmd = [str(self.python), str(BENCH / "lti_platform.py"), "--port", str(self.args.platform_port)]
        for tool in tools.values():
            cmd += ["--tool", tool]
        return cmd

    @contextlib.contextmanager
    def platform(self) -> Iterator[subprocess.Popen[bytes]]:
        if port_open(self.args.platform_port):
            raise RuntimeError(f"port {self.args.platform_port} is busy (another platform running?)")
        logfile = (self.workdir / "platform.log").open("wb")
        proc = subprocess.Popen(
            self.platform_command(), stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_http_ok(self.platform_url + "/healthz", 20, proc)
            self.platform_pid = proc.pid
            yield proc
        finally:
            stop_process_group(proc)
            logfile.close()

    # --- our tool -------------------------------------------------------------------------------

    def ours_env(self, run: Path, spec: TargetSpec, dbname: str, prefix: str, url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")}
        env.update(
            {
                "LTI_TOOL_INSTANCE_PATH": str(run / "instance"),
                "LTI_TOOL_SECRET_KEY": secrets.token_urlsafe(32),
                "LTI_TOOL_BASE_URL": url,
                "LTI_TOOL_CONTENT_DIR": str(self.content),
            }
        )
        if spec.db == "postgres":
            env["LTI_TOOL_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
        if spec.redis:
            env["LTI_TOOL_REDIS_URL"] = REDIS_URL
            env["LTI_TOOL_REDIS_PREFIX"] = prefix
        return env

    @contextlib.contextmanager
    def serve_ours(self, spec: TargetSpec, run: Path) -> Iterator[Served]:
        dbname = benchenv.db_name("launch", secrets.token_hex(4))
        prefix = f"nama-bench-{secrets.token_hex(4)}:"
        endpoint = self.endpoints[spec.name]
        env = self.ours_env(run, spec, dbname, prefix, endpoint.url)
        setup: list[str] = []
        logfile = run / "tool.log"
        if spec.db == "postgres":
            pg_execute(f'CREATE DATABASE "{dbname}"')
            setup.append(f"CREATE DATABASE {dbname}")
        proc = None
        try:
            flask = [str(self.python), "-m", "flask", "--app", "app"]
            steps = [
                [*flask, "db", "upgrade"],
                [
                    *flask,
                    "platform",
                    "add",
                    "--issuer",
                    self.platform_url,
                    "--client-id",
                    endpoint.client,
                    "--auth-login-url",
                    f"{self.platform_url}/auth",
                    "--auth-token-url",
                    f"{self.platform_url}/token",
                    "--jwks-url",
                    f"{self.platform_url}/jwks",
                    "--deployment-id",
                    "deploy-1",
                    "--name",
                    "bench platform",
                ],
            ]
            for cmd in steps:
                run_checked(cmd, env, ROOT, logfile)
                setup.append(shlex.join(["flask", *cmd[3:]]))
            cmd = [str(self.gunicorn), "-w", str(spec.workers)]
            if spec.threads:
                cmd += ["--threads", str(spec.threads)]
            cmd += ["-b", f"127.0.0.1:{endpoint.port}", "--no-control-socket", "app:app"]
            out = logfile.open("ab")
            proc = subprocess.Popen(
                cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            out.close()
            wait_http_ok(endpoint.url + "/healthz", 60, proc)
            target = driver.Target(
                self.platform_url,
                endpoint.client,
                f"{endpoint.url}/lti/login",
                f"{endpoint.url}/lti/launch",
                course_title(self.content),
                users=self.args.users,
            )
            shown_env = " ".join(
                f"{k}={v}"
                for k, v in sorted(env.items())
                if k.startswith("LTI_TOOL_") and k != "LTI_TOOL_SECRET_KEY"
            )
            yield Served(
                proc,
                target,
                f"{shown_env} {shlex.join(['gunicorn', *cmd[1:]])}",
                setup,
                database=dbname if spec.db == "postgres" else "",
            )
        finally:
            if proc is not None:
                stop_process_group(proc)
            if spec.db == "postgres":
                pg_execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            if spec.redis:
                redis_delete_prefix(prefix)

    # --- peers ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def serve_peer(self, spec: TargetSpec, run: Path) -> Iterator[Served]:
        env = dict(os.environ)
        env.update({"PEER_PLATFORM_ISSUER": self.platform_url, "PEER_STATE_DIR": str(run / "state")})
        setup: list[str] = []
        dbname = ""
        endpoint = self.endpoints[spec.name]
        base, client = endpoint.url, endpoint.client
        env.update({"PEER_CLIENT_ID": client, "PEER_PORT": str(endpoint.port)})
        if spec.kind == "pylti1p3":
            if spec.redis:
                env["PEER_REDIS_URL"] = REDIS_URL
            cmd = [str(PEERS_UP), "pylti1p3"] + ([] if spec.dev_server else ["--gunicorn", str(spec.workers)])
        else:
            env["PEER_DB"] = spec.db
            if spec.db == "postgres":
                dbname = f"peers_ltijs_{secrets.token_hex(4)}"
                pg_execute(f'CREATE DATABASE "{dbname}"')
                setup.append(f"CREATE DATABASE {dbname}")
                env.update(
                    {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "postgres", "PGDATABASE": dbname}
                )
            cmd = [str(PEERS_UP), "ltijs"]
        shown_env = " ".join(
            f"{k}={env[k]}"
            for k in sorted(env)
            if k.startswith("PEER_") or (dbname and k.startswith("PG") and k != "PGPASSWORD")
        )
        out = (run / "tool.log").open("ab")
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        try:
            wait_http_ok(base + "/jwks", 600, proc)  # the first start installs the peer
            if spec.kind == "pylti1p3":
                score_url, score_header = base + "/score/{launch_id}", ""
            else:
                score_url, score_header = base + "/score", "Authorization: Bearer {launch_id}"
            target = driver.Target(
                self.platform_url,
                client,
                f"{base}/login",
                f"{base}/launch",
                PEER_MARKER,
                users=self.args.users,
                scores_per_launch=self.args.peer_scores,
                score_url=score_url,
                score_header=score_header,
            )
            yield Served(
                proc, target, f"{shown_env} {shlex.join(['up.sh', *cmd[1:]])}", setup, database=dbname
            )
        finally:
            stop_process_group(proc)
            if dbname:
                pg_execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    # --- one measurement ------------------------------------------------------------------------

    @contextlib.contextmanager
    def started(self, spec: TargetSpec, round_no: int) -> Iterator[Running]:
        """The target's server on a fresh database/state with its workers booted; stopped and cleaned up after."""
        port = self.endpoints[spec.name].port
        if port_open(port):
            raise RuntimeError(f"port {port} is busy before starting {spec.name}")
        run = self.workdir / f"{round_no}-{re.sub(r'[^a-z0-9]+', '-', spec.name)}"
        run.mkdir(parents=True)
        serve = self.serve_ours if spec.kind == "ours" else self.serve_peer
        started = time.monotonic()
        with serve(spec, run) as served:
            startup = time.monotonic() - started
            root = served.proc.pid
            # all gunicorn workers booted (the first one answering /healthz is not enough)
            settle_s = procinfo.settle(lambda: procinfo.tree(root))
            yield Running(spec, served, startup, settle_s)
        deadline = time.monotonic() + 10
        while port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not self.args.keep_runs:
            shutil.rmtree(run, ignore_errors=True)

    def quiet(self) -> dict[str, float]:
        busy = procinfo.wait_for_quiet(self.args.quiet_cores, self.args.quiet_timeout)
        return {"busy_cores_before": round(busy, 2)}

    def sampler(self, running: Running, idle: list[Running] | None = None) -> Callable[[], dict[str, float]]:
        """CPU counters around the measured launches: the measured target's process tree, the platform, the driver,
        the PostgreSQL processes that work for the target's database (pgcpu.py; 0 without one), the machine;
        with slices also the process trees of the other targets' servers, idle meanwhile (their CPU should be near
        zero: it counts in no target's figures, only in 'other')."""
        postgres = pgcpu.PostgresCpu(running.served.database or None)

        def sample() -> dict[str, float]:
            busy, _ = procinfo.system_cpu()
            values = {
                "wall": time.monotonic(),
                "machine_busy_cpu": busy,
                "tool_cpu": procinfo.cpu_seconds(procinfo.tree(running.root)),
                "platform_cpu": procinfo.cpu_seconds([self.platform_pid]),
                "driver_cpu": time.process_time() + _children_cpu(),
            }
            values.update(postgres.sample())
            if idle is not None:
                values["idle_servers_cpu"] = procinfo.cpu_seconds(
                    [pid for other in idle for pid in procinfo.tree(other.root)]
                )
            return values

        return sample

    def complete(self, summary: dict[str, Any], running: Running) -> None:
        """Add CPU per launch, other load, memory and how the server was started to a driver summary."""
        memory = procinfo.memory(procinfo.tree(running.root))
        sampled = summary["sampled"]
        ok = max(1, summary["ok"])
        sampled["tool_cpu_ms_per_launch"] = round(1000 * sampled["tool_cpu"] / ok, 2)
        # where the rest of the machine's CPU went, per launch: on a 2-core machine these decide launches/s too
        for part in ("platform_cpu", "driver_cpu", *pgcpu.KEYS):
            sampled[f"{part}_ms_per_launch"] = round(1000 * sampled[part] / ok, 2)
        sampled["other_cpu_cores"] = round(
            (
                sampled["machine_busy_cpu"]
                - sampled["tool_cpu"]
                - sampled["platform_cpu"]
                - sampled["driver_cpu"]
                - sampled["postgres_cpu"]
            )
            / max(sampled["wall"], 1e-9),
            2,
        )
        if "idle_servers_cpu" in sampled:
            sampled["idle_servers_cpu_cores"] = round(
                sampled["idle_servers_cpu"] / max(sampled["wall"], 1e-9), 3
            )
        summary["settle_s"] = round(running.settle_s, 2)
        summary["memory"] = memory
        summary["server"] = running.served.command
        summary["setup"] = running.served.setup
        summary["startup_s"] = round(running.startup_s, 2)
        # with wall_s: when the measured launches ran, so how far apart two paired runs were
        summary["ended_at"] = round(time.time(), 2)

    def measure(self, spec: TargetSpec, round_no: int) -> dict[str, Any]:
        """One target alone: start it, warm-up, quiet machine, n measured launches, stop it."""
        with self.started(spec, round_no) as running:
            summary = driver.drive(
                running.served.target,
                self.args.n,
                self.args.c,
                self.args.warmup,
                self.args.driver_procs,
                between=self.quiet,
                sampler=self.sampler(running),
            )
            self.complete(summary, running)
        summary.update(round_no=round_no, slice_no=1)
        return summary

    def measure_in_slices(
        self,
        specs: list[TargetSpec],
        round_no: int,
        results: dict[str, list[dict[str, Any]]],
        failures: list[str],
    ) -> None:
        """One round side by side (--slices K): every target's server started (rotated order, see slices.py) and
        warmed up, then each target's n launches in K slices, alternating targets slice by slice, each slice after
        a quiet-machine wait. Summaries of slices go to results, failures to failures."""
        k = self.args.slices
        sizes = slices.slice_sizes(self.args.n, k)
        by_name = {spec.name: spec for spec in specs}
        with contextlib.ExitStack() as stack:
            running: dict[str, Running] = {}
            for name in slices.round_order(list(by_name), round_no):
                log(f"round {round_no}/{self.args.repeat}: start {name}")
                try:
                    running[name] = stack.enter_context(self.started(by_name[name], round_no))
                except Exception as exc:  # report and go on with the other targets
                    failures.append(f"round {round_no} {name}: {type(exc).__name__}: {exc}")
                    log(f"  FAILED: {failures[-1]}")
            warmups: dict[str, tuple[dict[str, Any], dict[str, int]]] = {}
            for name, one in running.items():
                s0 = driver.platform_stats(self.platform_url)
                wall, warm = driver.run_phase(
                    one.served.target, self.args.warmup, self.args.c, 0, self.args.driver_procs
                )
                s1 = driver.platform_stats(self.platform_url)
                counts = {"n": self.args.warmup, "ok": sum(r.ok for r in warm), "wall_s": round(wall, 3)}
                warmups[name] = (counts, driver.counter_delta(s0, s1))
            for name, slice_no in slices.schedule(list(by_name), round_no, k):
                if name not in warmups:  # did not start, or failed in an earlier slice
                    continue
                one = running[name]
                log(f"round {round_no}/{self.args.repeat}: {name} slice {slice_no}/{k}")
                try:
                    summary = driver.drive(
                        one.served.target,
                        sizes[slice_no - 1],
                        self.args.c,
                        0,
                        self.args.driver_procs,
                        index_base=self.args.warmup + sum(sizes[: slice_no - 1]),
                        between=self.quiet,
                        sampler=self.sampler(one, [o for o in running.values() if o is not one]),
                    )
                    self.complete(summary, one)
                except Exception as exc:  # no more slices of this target in this round
                    failures.append(f"round {round_no} {name} slice {slice_no}: {type(exc).__name__}: {exc}")
                    log(f"  FAILED: {failures[-1]}")
                    del warmups[name]
                    continue
                summary["warmup"], summary["platform_warmup"] = warmups[name]
                summary.update(round_no=round_no, slice_no=slice_no, slices=k)
                results[name].append(summary)
                log_summary(summary)


# --------------------------------------------------------------------------------------- report


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def med(values: list[float]) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return round(statistics.median(values), 1) if values else float("nan")


def aggregate(spec: TargetSpec, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over a target's runs: over its rounds, or with --slices over all its slices of all rounds."""
    rounds = slices.round_totals(runs)
    keys = [(r["round_no"], r["slice_no"]) for r in runs]
    return {
        "target": spec.name,
        "kind": spec.kind,
        "db": spec.db or "-",
        "form": spec.form,
        "rounds": len(rounds),
        "launches_per_s": med([r["launches_per_s"] for r in runs]),
        "p50_ms": med([r["p50_ms"] for r in runs]),
        "p95_ms": med([r["p95_ms"] for r in runs]),
        "p99_ms": med([r["p99_ms"] for r in runs]),
        "ok": sum(r["ok"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "tool_hops": med([r["tool_hops"] for r in runs]),
        "platform_hops": med([r["platform_hops"] for r in runs]),
        "jwks_fetches": med([r["platform"].get("jwks_fetches", 0) for r in runs]),
        "jwks_fetches_warmup": med([r["platform_warmup"].get("jwks_fetches", 0) for r in runs]),
        "tool_cpu_ms_per_launch": med([r["sampled"]["tool_cpu_ms_per_launch"] for r in runs]),
        "other_cpu_cores": med([r["sampled"]["other_cpu_cores"] for r in runs]),
        "peak_rss_max_mb": max(r["memory"]["peak_rss_max_mb"] for r in runs),
        "peak_rss_sum_mb": max(r["memory"]["peak_rss_sum_mb"] for r in runs),
        "pss_sum_mb": max(r["memory"]["pss_sum_mb"] for r in runs),
        "processes": max(r["memory"]["processes"] for r in runs),
        "step_p50_ms": {s: med([r["step_p50_ms"].get(s, float("nan")) for r in runs]) for s in driver.STEPS},
        "server": runs[-1]["server"],
        "scores": [r["scores"] for r in runs if "scores" in r],
        "token_requests": sum(r["platform"].get("token_requests", 0) for r in runs),
        # per round (all its slices together), and per run with its (round, slice): what the pairing uses
        "round_nos": list(rounds),
        "round_lps": [lps for lps, _ in rounds.values()],
        "round_cpu": [cpu for _, cpu in rounds.values()],
        "slice_keys": keys,
        "slice_lps": [r["launches_per_s"] for r in runs],
        "slice_cpu": [r["sampled"]["tool_cpu_ms_per_launch"] for r in runs],
        "rounds_detail": [
            f"{r['launches_per_s']:.1f}/s {r['p95_ms']:.0f} ({r['sampled']['other_cpu_cores']:.2f}) "
            f"cpu {r['sampled']['tool_cpu_ms_per_launch']:.1f}"
            f"/{r['sampled']['postgres_cpu_ms_per_launch']:.1f}"
            f"/{r['sampled']['platform_cpu_ms_per_launch']:.1f}"
            f"/{r['sampled']['driver_cpu_ms_per_launch']:.1f}"
            + (
                f" idle {r['sampled']['idle_servers_cpu_cores']:.3f}"
                if "idle_servers_cpu_cores" in r["sampled"]
                else ""
            )
            for r in runs
        ],
    }


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def paired(aggs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every ours target with every peer: ours ÷ peer of launches/s and of tool CPU per launch, one value per
    round (--slices 1) or per slice of a round (slice k of ours with slice k of the peer in the same round)."""
    out = []
    for a in aggs:
        if a["kind"] != "ours":
            continue
        for p in aggs:
            if p["kind"] == "ours":
                continue
            ratios = {
                name: slices.paired_ratios(
                    dict(zip(a["slice_keys"], a[values], strict=True)),
                    dict(zip(p["slice_keys"], p[values], strict=True)),
                )
                for name, values in (("lps", "slice_lps"), ("cpu", "slice_cpu"))
            }
            out.append({"ours": a["target"], "peer": p["target"], **ratios})
    return out


def report(args: argparse.Namespace, aggs: list[dict[str, Any]], command: str) -> str:
    sliced = args.slices > 1
    if sliced:
        sizes = "/".join(str(x) for x in slices.slice_sizes(args.n, args.slices))
        runs = (
            f"N={args.n} launches per run in {args.slices} slices ({sizes}), C={args.c}, warm-up {args.warmup} "
            f"(not counted), {args.repeat} round(s) side by side (all servers up, targets alternating slice by "
            f"slice, the first target rotated per round), medians over all slices; driver procs {args.driver_procs}"
        )
    else:
        runs = (
            f"N={args.n} launches per run, C={args.c}, warm-up {args.warmup} (not counted), "
            f"{args.repeat} round(s), medians over rounds; driver procs {args.driver_procs}"
        )
    out = [f"command: {command}", runs, ""]
    rows = [
        [
            a["target"],
            a["form"],
            a["db"],
            f"{a['launches_per_s']:.1f}",
            f"{a['p50_ms']:.0f}",
            f"{a['p95_ms']:.0f}",
            f"{a['p99_ms']:.0f}",
            f"{a['ok']}/{a['errors']}",
            f"{a['tool_hops']:.0f}+{a['platform_hops']:.0f}",
            f"{a['jwks_fetches']:.0f} ({a['jwks_fetches_warmup']:.0f})",
            f"{a['tool_cpu_ms_per_launch']:.1f}",
            f"{a['other_cpu_cores']:.2f}",
            f"{a['peak_rss_max_mb']:.0f}/{a['peak_rss_sum_mb']:.0f} ({a['processes']})",
            " ".join(f"{a['step_p50_ms'][s]:.0f}" for s in driver.STEPS),
        ]
        for a in aggs
    ]
    header = [
        "target",
        "form",
        "db",
        "launch/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "ok/err",
        "hops",
        "JWKS (warm-up)",
        "CPU ms/l",
        "other",
        "peak RSS MB max/sum (procs)",
        "step p50 ms l/a/L/p",
    ]
    out.append(table(rows, header))
    out.append(
        "hops = requests to the tool + to the platform per launch; JWKS = platform key-set fetches during the "
        "N measured launches (during warm-up); CPU ms/l = tool processes' CPU per measured launch "
        "(gunicorn master+workers or the node process; not PostgreSQL's); other = CPU cores busy with anything "
        "but tool, platform, driver and the target's PostgreSQL work (see below) during the measured launches; "
        "peak RSS = VmHWM, largest process / sum over master+workers (shared pages counted in each); "
        "steps = login / auth (platform) / launch POST / first page incl. redirects"
    )
    ours = [a for a in aggs if a["kind"] == "ours"]
    peers = [a for a in aggs if a["kind"] != "ours"]
    if ours and peers:
        out.append("")
        out.append("ratios ours ÷ peer (launches/s: >1 = ours faster; p50/p95: <1 = ours faster)")
        header = ["ours \\ peer", *(p["target"] for p in peers)]
        rows = []
        for a in ours:
            cells = [a["target"]]
            for p in peers:
                r_lps = a["launches_per_s"] / p["launches_per_s"] if p["launches_per_s"] else float("nan")
                r50 = a["p50_ms"] / p["p50_ms"] if p["p50_ms"] else float("nan")
                r95 = a["p95_ms"] / p["p95_ms"] if p["p95_ms"] else float("nan")
                cells.append(f"{r_lps:.2f} | {r50:.2f} | {r95:.2f}")
            rows.append(cells)
        out.append("cells: launches/s | p50 | p95")
        out.append(table(rows, header))
        # Paired by round (the targets of one round ran back to back) or by slice (seconds apart): steadier on a
        # machine whose speed drifts than the ratio of medians above.
        out.append("")
        if sliced:
            out.append(
                "paired by slice, median over all pairs of ours ÷ peer in the same slice of the same round"
            )
        else:
            out.append("paired by round, median over rounds of ours ÷ peer in the same round")
        out.append(
            "cells: launches/s (>1 = ours faster) | tool CPU per launch (<1 = ours cheaper) "
            f"[each {'pair' if sliced else 'round'}'s CPU ratio]"
        )
        cells_of = {(x["ours"], x["peer"]): x for x in paired(aggs)}
        rows = []
        for a in ours:
            cells = [a["target"]]
            for p in peers:
                lps, cpu = (
                    cells_of[a["target"], p["target"]]["lps"],
                    cells_of[a["target"], p["target"]]["cpu"],
                )
                each = " ".join(f"{r:.2f}" for r in cpu)
                cells.append(
                    f"{statistics.median(lps):.2f} | {statistics.median(cpu):.2f} [{each}]"
                    if lps and cpu
                    else "-"
                )
            rows.append(cells)
        out.append(table(rows, header))
    scored = [a for a in aggs if a["scores"]]
    if scored:
        out.append("")
        out.append("AGS score posts (peers' /score routes; platform /token requests per score post)")
        rows = []
        for a in scored:
            ok = sum(x["ok"] for x in a["scores"])
            err = sum(x["errors"] for x in a["scores"])
            rows.append(
                [
                    a["target"],
                    f"{ok}/{err}",
                    f"{med([x['p50_ms'] for x in a['scores']]):.0f}",
                    f"{med([x['p95_ms'] for x in a['scores']]):.0f}",
                    f"{a['token_requests'] / max(1, ok):.2f}",
                ]
            )
        out.append(table(rows, ["target", "ok/err", "p50 ms", "p95 ms", "token req/score"]))
    out.append("")
    out.append(
        "every round: launches/s, p95 ms (other load in cores) cpu ms per launch tool/PostgreSQL/platform/driver "
        "-- the machine may be shared, see 'other'"
    )
    out.append(
        "  PostgreSQL = the processes working for the target's own database (its backends, autovacuum and parallel "
        "workers) + the shared ones (postmaster, checkpointer, background writer, walwriter, launchers) in "
        "proportion to those backends' share of all backends' CPU; 0 without a PostgreSQL database; a backend that "
        "exits before the launches end is read at their start only (what it used after that is lost)"
    )
    if sliced:
        out.append(
            "  with slices: every slice of every round, in slice order; idle = CPU cores used meanwhile by the other "
            "targets' servers (counted in 'other' only)"
        )
    for a in aggs:
        if not sliced:
            out.append(f"  {a['target']:26} " + " | ".join(a["rounds_detail"]))
            continue
        by_round: dict[int, list[str]] = {}
        for (round_no, _), detail in zip(a["slice_keys"], a["rounds_detail"], strict=True):
            by_round.setdefault(round_no, []).append(detail)
        for round_no, details in by_round.items():
            out.append(f"  {a['target']:26} r{round_no}: " + " | ".join(details))
    out.append("")
    out.append("servers:")
    for a in aggs:
        out.append(f"  {a['target']}: {a['server']}")
    return "\n".join(out)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "kernel": pyplatform.release(),
    }
    with contextlib.suppress(OSError):
        cpu = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", cpu)
        info["cpu_model"] = m[1] if m else ""
    with contextlib.suppress(OSError):
        m = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
        info["mem_gb"] = round(int(m[1]) / 1024 / 1024, 1) if m else None
    for name, cmd in (("node", ["node", "--version"]), ("postgres", ["psql", "--version"])):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            info[name] = subprocess.check_output(cmd, text=True).strip()
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        info["git"] = subprocess.check_output(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], text=True
        ).strip()
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=500, help="measured launches per run (default 500)")
    ap.add_argument("-c", type=int, default=16, help="concurrent launches (default 16)")
    ap.add_argument("--warmup", type=int, default=32, help="launches before measuring (default 32)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds over all targets (default 3)")
    ap.add_argument(
        "--slices",
        type=int,
        default=1,
        help="1 (default): in each round one target after the other, each alone. K > 1: side by side, every "
        "target's server up for the whole round, its n launches measured in K slices of n/K, alternating targets "
        "slice by slice; ratios paired by slice (see the module help)",
    )
    ap.add_argument("--targets", default=DEFAULT_TARGETS, help=f"default: {DEFAULT_TARGETS}")
    ap.add_argument("--users", type=int, default=0, help="0: a new learner per launch; else learner-(i %% U)")
    ap.add_argument("--driver-procs", type=int, default=1, help="driver processes sharing the C threads")
    ap.add_argument(
        "--content-dir",
        default="",
        help="default: content/ if it has grundlagenkurs, else tests/fixtures/content",
    )
    ap.add_argument("--platform-port", type=int, default=9051)
    ap.add_argument("--ours-port", type=int, default=9201)
    ap.add_argument("--pylti-port", type=int, default=9101)
    ap.add_argument("--ltijs-port", type=int, default=9102)
    ap.add_argument(
        "--json", default="auto", help="JSON results file ('auto': bench/results/launch-<time>.json; '' none)"
    )
    ap.add_argument(
        "--peer-scores",
        type=int,
        default=0,
        help="AGS score posts per launch to the peers' /score routes (not timed in the launch latency, but "
        "inside the measured wall time: use a separate run for them)",
    )
    ap.add_argument(
        "--quiet-cores",
        type=float,
        default=0.3,
        help="before measuring, wait until the machine is busy with at most this many cores (default 0.3)",
    )
    ap.add_argument(
        "--quiet-timeout", type=float, default=30, help="longest such wait in seconds (default 30)"
    )
    ap.add_argument("--keep-runs", action="store_true", help="keep each run's instance/state folder and logs")
    args = ap.parse_args(argv)
    if not 1 <= args.slices <= args.n:
        ap.error(f"--slices must be 1 to n ({args.n})")
    specs = [parse_target(t) for t in args.targets.split(",") if t.strip()]
    command = shlex.join(
        [Path(sys.executable).name, "bench/launch.py", *(argv if argv is not None else sys.argv[1:])]
    )
    bench = Bench(args, specs)
    log(
        f"work dir {bench.workdir}; content {bench.content}; marker for ours: {course_title(bench.content)!r}"
    )
    results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in specs}
    failures: list[str] = []
    with bench.platform():
        for round_no in range(1, args.repeat + 1):
            if args.slices > 1:
                try:
                    bench.measure_in_slices(specs, round_no, results, failures)
                except Exception as exc:  # stopping a server failed: report and go on with the next round
                    failures.append(f"round {round_no}: {type(exc).__name__}: {exc}")
                    log(f"  FAILED: {failures[-1]}")
                continue
            for spec in specs:
                log(f"round {round_no}/{args.repeat}: {spec.name}")
                try:
                    summary = bench.measure(spec, round_no)
                except Exception as exc:  # report and go on with the other targets
                    failures.append(f"round {round_no} {spec.name}: {type(exc).__name__}: {exc}")
                    log(f"  FAILED: {failures[-1]}")
                    continue
                results[spec.name].append(summary)
                log_summary(summary)
    aggs = [aggregate(s, results[s.name]) for s in specs if results[s.name]]
    text = report(args, aggs, command)
    print(text)
    if failures:
        print("\nfailed runs:\n  " + "\n  ".join(failures))
    if args.json:
        path = (
            Path(args.json)
            if args.json != "auto"
            else BENCH / "results" / f"launch-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "command": command,
            "machine": machine_info(),
            "args": vars(args),
            "content_dir": str(bench.content),
            "aggregates": aggs,
            "paired": paired(aggs),
            "runs": results,
            "failures": failures,
        }
        path.write_text(json.dumps(doc, indent=1))
        print(f"\nJSON: {path}")
    if not args.keep_runs:
        shutil.rmtree(bench.workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
