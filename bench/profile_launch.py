"""Where one launch's time goes in our tool: SQL statements, launch-store calls and a cProfile, per step.

    /work/main/.venv/bin/python bench/profile_launch.py [--db sqlite|postgres] [--redis] [-n 50] [--top 35]

The tool runs in this process (the app from app.py, the same LTI_TOOL_* settings as bench/launch.py, a fresh
instance folder or PostgreSQL database) and is called through Flask's test client, one launch after the other,
so the profile shows the tool's own work without gunicorn or concurrency. The platform is bench/lti_platform.py
in its own process, reached over HTTP like in the benchmark (login -> /auth -> launch POST -> first page).
Only the tool's requests are profiled. Use py-spy on the gunicorn workers for the behaviour under load.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import urlopen

import driver
import launch as bench_launch

ROOT = bench_launch.ROOT
STEP_OF = {"/lti/login": "login", "/lti/launch": "launch"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--redis", action="store_true")
    ap.add_argument("-n", type=int, default=50, help="profiled launches (after 5 unprofiled ones)")
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--platform-port", type=int, default=9061)
    ap.add_argument("--ours-port", type=int, default=9211, help="only used in URLs; nothing listens there")
    ap.add_argument(
        "--no-cprofile",
        dest="cprofile",
        action="store_false",
        help="only count statements and time the steps (no profiler overhead in the wall times)",
    )
    ap.add_argument("--pstats", default="", help="also write the raw cProfile stats to this file")
    args = ap.parse_args(argv)

    ours = f"http://127.0.0.1:{args.ours_port}"
    platform_url = f"http://127.0.0.1:{args.platform_port}"
    run = Path(tempfile.mkdtemp(prefix="nama-profile-"))
    dbname = bench_launch.benchenv.db_name("profile_launch", secrets.token_hex(4))
    prefix = f"nama-profile-{secrets.token_hex(4)}:"
    env = {
        "LTI_TOOL_INSTANCE_PATH": str(run / "instance"),
        "LTI_TOOL_SECRET_KEY": secrets.token_urlsafe(32),
        "LTI_TOOL_BASE_URL": ours,
        "LTI_TOOL_CONTENT_DIR": str(bench_launch.content_dir()),
    }
    if args.db == "postgres":
        env["LTI_TOOL_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
        bench_launch.pg_execute(f'CREATE DATABASE "{dbname}"')
    if args.redis:
        env.update({"LTI_TOOL_REDIS_URL": bench_launch.REDIS_URL, "LTI_TOOL_REDIS_PREFIX": prefix})
    os.environ.update(env)
    plat = subprocess.Popen(
        [
            sys.executable,
            str(bench_launch.BENCH / "lti_platform.py"),
            "--port",
            str(args.platform_port),
            "--tool",
            f"nama-bench,{ours}/lti/login,{ours}/lti/launch,{ours}/.well-known/jwks.json",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        bench_launch.wait_http_ok(platform_url + "/healthz", 20, plat)
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        full_env = dict(os.environ)
        log = run / "setup.log"
        bench_launch.run_checked([*flask, "db", "upgrade"], full_env, ROOT, log)
        bench_launch.run_checked(
            [
                *flask,
                "platform",
                "add",
                "--issuer",
                platform_url,
                "--client-id",
                "nama-bench",
                "--auth-login-url",
                f"{platform_url}/auth",
                "--auth-token-url",
                f"{platform_url}/token",
                "--jwks-url",
                f"{platform_url}/jwks",
                "--deployment-id",
                "deploy-1",
            ],
            full_env,
            ROOT,
            log,
        )
        return profile(args, ours, platform_url)
    finally:
        bench_launch.stop_process_group(plat)
        if args.db == "postgres":
            bench_launch.pg_execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if args.redis:
            bench_launch.redis_delete_prefix(prefix)
        shutil.rmtree(run, ignore_errors=True)


def count_calls(store: Any, record: Callable[[str], None]) -> None:
    """Call record(method name) before each call of the store's public methods. The methods are wrapped on the
    instance, so the tool keeps the same object of the same type and takes the same path as without counting (the
    launch asks the store's type whether the nonce marker goes into its own statement: provision.nonce_with_rows).
    """

    def counted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*a: Any, **kw: Any) -> Any:
            record(name)
            return method(*a, **kw)

        return call

    for name in dir(type(store)):
        if not name.startswith("_") and callable(getattr(type(store), name)):
            setattr(store, name, counted(name, getattr(store, name)))


def profile(args: argparse.Namespace, ours: str, platform_url: str) -> int:
    sys.path.insert(0, str(ROOT))
    import logging

    from flask import has_request_context, request
    from sqlalchemy import event

    from app import app  # type: ignore[import-not-found]

    logging.getLogger().setLevel(logging.WARNING)
    engine = app.extensions["nama_db"].engine
    counting = {"on": False}
    sql: dict[str, Counter[str]] = defaultdict(Counter)
    sql_text: dict[str, Counter[str]] = defaultdict(Counter)
    sql_time: Counter[str] = Counter()
    store_calls: dict[str, Counter[str]] = defaultdict(Counter)

    def step_name() -> str:
        if not has_request_context():
            return "outside a request"
        return STEP_OF.get(request.path, "page")

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if not counting["on"]:
            return
        step = step_name()
        verb = statement.lstrip().split(None, 1)[0].upper()
        sql[step][verb] += 1
        sql_text[step][" ".join(statement.split())[:150]] += 1
        sql_time[step] += time.perf_counter() - conn.info.get("t0", time.perf_counter())

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if counting["on"]:
            sql[step_name()]["(pool checkout)"] += 1

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        if counting["on"]:
            sql[step_name()]["(commit)"] += 1

    def store_call(name: str) -> None:
        if counting["on"]:
            store_calls[step_name()][name] += 1

    count_calls(app.extensions["nama_launch_store"], store_call)
    target = driver.Target(platform_url, "nama-bench", f"{ours}/lti/login", f"{ours}/lti/launch", "")
    expect = bench_launch.course_title(bench_launch.content_dir())
    prof = cProfile.Profile()
    step_wall: dict[str, list[float]] = defaultdict(list)

    def tool(step: str, fn: Any, *a: Any, **kw: Any) -> Any:
        if counting["on"] and args.cprofile:
            prof.enable()
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            if counting["on"]:
                if args.cprofile:
                    prof.disable()
                step_wall[step].append(time.perf_counter() - t0)

    def one(i: int) -> None:
        client = app.test_client()
        base = {"base_url": ours}
        params = driver.login_params(target, i)
        r = tool("login", client.get, "/lti/login?" + urlencode(params), **base)
        assert r.status_code == 302, r.status_code
        with urlopen(r.headers["Location"], timeout=10) as resp:
            form = driver.FormParser()
            form.feed(resp.read().decode())
        assert form.action
        r = tool("launch", client.post, urlsplit(form.action).path, data=form.fields, **base)
        assert r.status_code == 303, (r.status_code, r.get_data(as_text=True)[:500])
        r = tool("page", client.get, r.headers["Location"], **base)
        assert r.status_code == 200 and expect in r.get_data(as_text=True), r.status_code

    for i in range(5):
        one(10_000 + i)
    counting["on"] = True
    for i in range(args.n):
        one(i)
    counting["on"] = False

    n = args.n
    steps = ["login", "launch", "page", "outside a request"]
    print(f"{n} launches, db={args.db}, launch store={'redis' if args.redis else 'database table'}")
    print("\n== per launch, by step (in-process, sequential) ==")
    for step in steps:
        if step not in sql and step not in step_wall:
            continue
        total_sql = sum(v for k, v in sql[step].items() if not k.startswith("("))
        verbs = ", ".join(f"{k} {v / n:.1f}" for k, v in sorted(sql[step].items()))
        walls = sorted(step_wall.get(step, [0.0]))
        print(
            f"{step:8} wall p50 {1000 * walls[len(walls) // 2]:6.2f} ms | SQL statements {total_sql / n:4.1f} "
            f"({verbs}); SQL time {1000 * sql_time[step] / n:.2f} ms | store calls "
            + (", ".join(f"{k} {v / n:.1f}" for k, v in sorted(store_calls[step].items())) or "-")
        )
    for step in steps:
        if sql_text.get(step):
            print(f"\n-- statements in {step} (per launch) --")
            for text, count in sql_text[step].most_common():
                print(f"{count / n:5.1f}  {text}")
    if not args.cprofile:
        return 0
    if args.pstats:
        prof.dump_stats(args.pstats)
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(
        f"\n== cProfile: cumulative time of the tool's functions, % of all profiled tool time ({total:.2f} s) =="
    )
    rows = []
    for (file, line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((ct, file, line, func))
    rows.sort(reverse=True)
    shown = 0
    for ct, file, line, func in rows:
        short = file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        if not (short.startswith("lti_tool/") or "pylti1p3" in short or "jwt/" in short):
            continue
        print(f"{100 * ct / total:5.1f}%  {1000 * ct / n:6.2f} ms/launch  {short}:{line}:{func}")
        shown += 1
        if shown >= args.top:
            break
    print("\n== cProfile: self time, top functions anywhere ==")
    rows = sorted(
        ((tt, file, line, func) for (file, line, func), (_cc, _nc, tt, _ct, _c) in stats.stats.items()),  # type: ignore[attr-defined]
        reverse=True,
    )
    for tt, file, line, func in rows[: args.top]:
        short = file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        print(f"{100 * tt / total:5.1f}%  {1000 * tt / n:6.2f} ms/launch  {short}:{line}:{func}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
