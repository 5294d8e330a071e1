"""The launch driver: N full LTI 1.3 launches at concurrency C, each one like a browser without JavaScript.

One launch, with a fresh cookie jar and fresh connections:
  1. GET the tool's OIDC login URL (iss, login_hint, target_link_uri, lti_message_hint, client_id,
     lti_deployment_id) -> expect 302 to the platform's /auth
  2. GET the platform's /auth URL -> expect 200 with a form (action = redirect_uri; id_token, state)
  3. POST the form fields to its action (the tool's launch URL)
  4. follow redirects (GET) until a 200 page; accept only 200 + the marker text in the page
Latency is from the first request to the last byte of the final page. Connections are kept alive within one
launch where the server allows it (a browser would), never across launches.

Cookies: a minimal jar per launch, host-only, path-matched. Secure cookies are sent over http://127.0.0.1
because browsers treat loopback as a secure context (Chromium keeps them there too).

Stand-alone use (the bench platform must be running, see lti_platform.py):
    python bench/driver.py --platform-url http://127.0.0.1:9051 --client-id peer-pylti1p3-client \
        --login-url http://127.0.0.1:9101/login --launch-url http://127.0.0.1:9101/launch \
        --expect "LTI launch OK" -n 200 -c 16 --warmup 32
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import multiprocessing as mp
import re
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import urlopen

TIMEOUT = 30.0
STEPS = ("login", "auth", "launch", "page")


@dataclass(frozen=True)
class Target:
    """What to launch: the tool's URLs at the platform, and the text the first page must contain."""

    platform_url: str
    client_id: str
    login_url: str
    launch_url: str
    expect: str
    deployment_id: str = "deploy-1"
    login_method: str = "GET"
    users: int = 0  # 0: every launch a different learner; else learner-(i % users)
    # Optional AGS score posts after each successful launch (the peers' /score routes). {launch_id} is the
    # value `extract` finds in the first page; the launch latency does not include them.
    scores_per_launch: int = 0
    score_url: str = ""
    score_header: str = ""  # e.g. "Authorization: Bearer {launch_id}"
    extract: str = r'data-launch-id="([^"]+)"'


@dataclass
class LaunchResult:
    index: int
    ok: bool
    latency: float  # seconds, first request to last byte of the final page
    error: str = ""
    tool_requests: int = 0
    platform_requests: int = 0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step (login, auth, launch, page)
    score_latencies: list[float] = field(default_factory=list)
    score_errors: list[str] = field(default_factory=list)


class FormParser(HTMLParser):
    """The first <form>: its action, method and input name/value pairs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.method = "get"
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action, self.method, self._in_form = a.get("action", ""), a.get("method", "get"), True
        elif tag == "input" and self._in_form and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True


class Browser:
    """One launch's browser: a cookie jar and keep-alive connections per origin, nothing shared."""

    def __init__(self) -> None:
        self.cookies: dict[tuple[str, str, str], str] = {}  # (host, path, name) -> value
        self.conns: dict[tuple[str, int], http.client.HTTPConnection] = {}
        self.requests_by_host: dict[tuple[str, int], int] = {}

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()

    def _cookie_header(self, host: str, path: str) -> str:
        pairs = [
            f"{name}={value}"
            for (h, p, name), value in self.cookies.items()
            if h == host and (path == p or path.startswith(p.rstrip("/") + "/") or p == "/")
        ]
        return "; ".join(pairs)

    def _store_cookies(self, host: str, req_path: str, headers: list[str]) -> None:
        for header in headers:
            parts = [x.strip() for x in header.split(";")]
            if "=" not in parts[0]:
                continue
            name, value = parts[0].split("=", 1)
            path, expired = "", False
            for attr in parts[1:]:
                key, _, val = attr.partition("=")
                key = key.strip().lower()
                if key == "path":
                    path = val.strip()
                elif (key == "max-age" and val.strip().lstrip("-").isdigit() and int(val) <= 0) or (
                    key == "expires" and "1970" in val
                ):
                    expired = True
            if not path.startswith("/"):  # default-path (RFC 6265 §5.1.4)
                path = req_path.rsplit("/", 1)[0] or "/"
            if expired:
                self.cookies.pop((host, path, name), None)
            else:
                self.cookies[(host, path, name)] = value

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        content_type: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        u = urlsplit(url)
        host, port = u.hostname or "127.0.0.1", u.port or 80
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        headers = {"User-Agent": "nama-bench-driver", "Accept": "text/html,application/json;q=0.9"}
        cookie = self._cookie_header(host, u.path or "/")
        if cookie:
            headers["Cookie"] = cookie
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        self.requests_by_host[(host, port)] = self.requests_by_host.get((host, port), 0) + 1
        for attempt in range(2):
            conn = self.conns.get((host, port))
            reused = conn is not None
            if conn is None:
                conn = self.conns[(host, port)] = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                del self.conns[(host, port)]
                if reused and attempt == 0:  # the server closed an idle keep-alive connection: retry once
                    continue
                raise
            if resp.will_close:
                conn.close()
                del self.conns[(host, port)]
            self._store_cookies(host, u.path or "/", resp.msg.get_all("Set-Cookie") or [])
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        raise AssertionError("unreachable")


class LaunchFailed(Exception):
    pass


def login_params(target: Target, index: int) -> dict[str, str]:
    user = index % target.users if target.users else index
    return {
        "iss": target.platform_url,
        "login_hint": f"learner-{user}",
        "target_link_uri": target.launch_url,
        "lti_message_hint": "rl-1",
        "client_id": target.client_id,
        "lti_deployment_id": target.deployment_id,
    }


def one_launch(target: Target, index: int) -> LaunchResult:
    browser = Browser()
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    tool_origin = urlsplit(target.login_url)
    tool_key = (tool_origin.hostname, tool_origin.port or 80)

    def step(name: str, method: str, url: str, body: bytes | None = None, ctype: str | None = None) -> Any:
        start = time.perf_counter()
        try:
            return browser.request(method, url, body, ctype)
        finally:
            steps[name] = steps.get(name, 0.0) + time.perf_counter() - start

    try:
        params = login_params(target, index)
        if target.login_method == "POST":
            status, headers, body = step(
                "login",
                "POST",
                target.login_url,
                urlencode(params).encode(),
                "application/x-www-form-urlencoded",
            )
        else:
            sep = "&" if "?" in target.login_url else "?"
            status, headers, body = step("login", "GET", target.login_url + sep + urlencode(params))
        if status != 302 or "location" not in headers:
            raise LaunchFailed(f"login: HTTP {status} {body[:200]!r}")
        auth_url = urljoin(target.login_url, headers["location"])
        if not auth_url.startswith(target.platform_url.rstrip("/") + "/"):
            raise LaunchFailed(f"login redirected elsewhere: {auth_url[:200]}")
        status, headers, body = step("auth", "GET", auth_url)
        if status != 200:
            raise LaunchFailed(f"auth: HTTP {status} {body[:200]!r}")
        form = FormParser()
        form.feed(body.decode("utf-8", "replace"))
        if not form.action or form.method.lower() != "post" or "id_token" not in form.fields:
            raise LaunchFailed("auth: no form_post form with an id_token")
        action = urljoin(auth_url, form.action)
        status, headers, body = step(
            "launch", "POST", action, urlencode(form.fields).encode(), "application/x-www-form-urlencoded"
        )
        url = action
        for _ in range(5):
            if status not in (301, 302, 303, 307, 308):
                break
            url = urljoin(url, headers.get("location", ""))
            status, headers, body = step("page", "GET", url)
        if status != 200:
            raise LaunchFailed(f"page: HTTP {status} at {url[:120]} {body[:300]!r}")
        if target.expect.encode() not in body:
            raise LaunchFailed(f"page: marker {target.expect!r} missing at {url[:120]}")
        ok, error = True, ""
    except LaunchFailed as exc:
        ok, error = False, str(exc)
    except (OSError, http.client.HTTPException) as exc:
        ok, error = False, f"{type(exc).__name__}: {exc}"
    latency = time.perf_counter() - t0
    tool_requests = browser.requests_by_host.get(tool_key, 0)  # type: ignore[arg-type]
    platform_requests = sum(browser.requests_by_host.values()) - tool_requests
    result = LaunchResult(index, ok, latency, error, tool_requests, platform_requests, steps)
    try:
        if ok and target.scores_per_launch:
            post_scores(target, browser, body, result)
    finally:
        browser.close()
    return result


def post_scores(target: Target, browser: Browser, page: bytes, result: LaunchResult) -> None:
    m = re.search(target.extract, page.decode("utf-8", "replace"))
    if not m:
        result.score_errors.append("no launch id in the page")
        return
    launch_id = html.unescape(m.group(1))
    for k in range(target.scores_per_launch):
        url = target.score_url.format(launch_id=launch_id)
        body = json.dumps({"score": 50 + k}).encode()
        extra = {}
        if target.score_header:
            name, _, value = target.score_header.format(launch_id=launch_id).partition(":")
            extra[name.strip()] = value.strip()
        start = time.perf_counter()
        try:
            status, _headers, data = browser.request("POST", url, body, "application/json", extra)
        except (OSError, http.client.HTTPException) as exc:
            result.score_errors.append(f"{type(exc).__name__}: {exc}")
            continue
        if status == 200 and b'"ok"' in data:
            result.score_latencies.append(time.perf_counter() - start)
        else:
            result.score_errors.append(f"score: HTTP {status} {data[:200]!r}")


def _worker_process(
    target: Target,
    start_index: int,
    n: int,
    threads: int,
    counter: Any,
    start_event: Any,
    out: Any,
) -> None:
    results: list[LaunchResult] = []
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with counter.get_lock():
                i = counter.value
                if i >= n:
                    return
                counter.value = i + 1
            r = one_launch(target, start_index + i)
            with lock:
                results.append(r)

    start_event.wait()
    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put([asdict(r) for r in results])


def run_phase(
    target: Target, n: int, concurrency: int, start_index: int, procs: int
) -> tuple[float, list[LaunchResult]]:
    """n launches at the given concurrency; returns (wall seconds, results)."""
    if n <= 0:
        return 0.0, []
    procs = max(1, min(procs, concurrency))
    if procs == 1:
        results: list[LaunchResult] = []
        lock = threading.Lock()
        next_i = [0]

        def loop() -> None:
            while True:
                with lock:
                    i = next_i[0]
                    if i >= n:
                        return
                    next_i[0] = i + 1
                r = one_launch(target, start_index + i)
                with lock:
                    results.append(r)

        pool = [threading.Thread(target=loop) for _ in range(concurrency)]
        t0 = time.monotonic()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return time.monotonic() - t0, results
    ctx = mp.get_context("fork")
    counter = ctx.Value("q", 0)
    start_event = ctx.Event()
    out = ctx.Queue()
    per = [concurrency // procs + (1 if k < concurrency % procs else 0) for k in range(procs)]
    workers = [
        ctx.Process(target=_worker_process, args=(target, start_index, n, per[k], counter, start_event, out))
        for k in range(procs)
    ]
    for w in workers:
        w.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    start_event.set()
    collected: list[LaunchResult] = []
    for _ in workers:
        collected.extend(LaunchResult(**d) for d in out.get())
    wall = time.monotonic() - t0
    for w in workers:
        w.join()
    return wall, collected


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def summarise(wall: float, results: list[LaunchResult]) -> dict[str, Any]:
    ok = [r for r in results if r.ok]
    lat = sorted(r.latency for r in ok)
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            key = re.sub(r"\d{3,}", "N", r.error)[:160]
            errors[key] = errors.get(key, 0) + 1
    steps = {
        s: round(statistics.median([r.steps[s] for r in ok if s in r.steps]) * 1000, 2)
        for s in STEPS
        if any(s in r.steps for r in ok)
    }
    summary: dict[str, Any] = {
        "n": len(results),
        "ok": len(ok),
        "errors": len(results) - len(ok),
        "error_kinds": errors,
        "wall_s": round(wall, 3),
        "launches_per_s": round(len(ok) / wall, 2) if wall > 0 else 0.0,
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p95_ms": round(percentile(lat, 95) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1) if lat else float("nan"),
        "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else float("nan"),
        "tool_hops": statistics.median([r.tool_requests for r in ok]) if ok else 0,
        "platform_hops": statistics.median([r.platform_requests for r in ok]) if ok else 0,
        "step_p50_ms": steps,
    }
    score_lat = sorted(x for r in results for x in r.score_latencies)
    score_err = [e for r in results for e in r.score_errors]
    if score_lat or score_err:
        summary["scores"] = {
            "ok": len(score_lat),
            "errors": len(score_err),
            "p50_ms": round(percentile(score_lat, 50) * 1000, 1),
            "p95_ms": round(percentile(score_lat, 95) * 1000, 1),
            "first_errors": score_err[:3],
        }
    return summary


def platform_stats(platform_url: str) -> dict[str, int]:
    with urlopen(platform_url.rstrip("/") + "/stats", timeout=5) as r:
        data: dict[str, int] = json.loads(r.read())
    return data


def counter_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(after) | set(before))}


def drive(
    target: Target,
    n: int,
    concurrency: int,
    warmup: int,
    procs: int = 1,
    index_base: int = 0,
    between: Any = None,
    sampler: Any = None,
) -> dict[str, Any]:
    """Warm-up (not counted), then n measured launches; platform counters for each phase.

    between(): called after the warm-up (e.g. wait for a quiet machine); sampler(): a dict of counters taken
    right before and after the measured launches, whose differences go into summary["sampled"]."""
    s0 = platform_stats(target.platform_url)
    warm_wall, warm = run_phase(target, warmup, concurrency, index_base, procs)
    extra = between() if between else None
    s1 = platform_stats(target.platform_url)
    m0 = sampler() if sampler else {}
    wall, results = run_phase(target, n, concurrency, index_base + warmup, procs)
    m1 = sampler() if sampler else {}
    s2 = platform_stats(target.platform_url)
    summary = summarise(wall, results)
    summary["between"] = extra
    summary["sampled"] = {k: round(m1[k] - m0[k], 3) for k in m0}
    summary["warmup"] = {"n": warmup, "ok": sum(r.ok for r in warm), "wall_s": round(warm_wall, 3)}
    summary["platform_warmup"] = counter_delta(s0, s1)
    summary["platform"] = counter_delta(s1, s2)
    summary["latencies_ms"] = sorted(round(r.latency * 1000, 2) for r in results if r.ok)
    first_errors = [r.error for r in sorted(results, key=lambda r: r.index) if not r.ok][:3]
    summary["first_errors"] = first_errors
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platform-url", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--login-url", required=True)
    ap.add_argument("--launch-url", required=True)
    ap.add_argument("--expect", required=True, help="text the first page must contain")
    ap.add_argument("--deployment-id", default="deploy-1")
    ap.add_argument("--login-method", choices=["GET", "POST"], default="GET")
    ap.add_argument("--users", type=int, default=0, help="0: a new learner per launch")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("-c", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=32)
    ap.add_argument("--procs", type=int, default=1, help="driver processes sharing the C threads")
    ap.add_argument("--scores-per-launch", type=int, default=0, help="AGS score posts after each launch")
    ap.add_argument("--score-url", default="", help="e.g. http://127.0.0.1:9101/score/{launch_id}")
    ap.add_argument("--score-header", default="", help="e.g. 'Authorization: Bearer {launch_id}'")
    ap.add_argument("--json", action="store_true", help="print the whole summary as JSON")
    args = ap.parse_args(argv)
    target = Target(
        args.platform_url.rstrip("/"),
        args.client_id,
        args.login_url,
        args.launch_url,
        args.expect,
        args.deployment_id,
        args.login_method,
        args.users,
        args.scores_per_launch,
        args.score_url,
        args.score_header,
    )
    summary = drive(target, args.n, args.c, args.warmup, args.procs)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        summary.pop("latencies_ms")
        for k, v in summary.items():
            print(f"{k:16} {v}")
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
