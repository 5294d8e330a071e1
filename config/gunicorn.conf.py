"""gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py app:app`.

Several processes, each with threads: Moodle calls the tool's JWKS back while one of the tool's own requests to
Moodle's token.php is waiting, and iframes load pages in parallel; never serve the tool single-threaded.
Environment: LTI_TOOL_BIND (default 127.0.0.1:8000), LTI_TOOL_WEB_WORKERS (default 2 x CPUs, at least 2),
LTI_TOOL_WEB_THREADS (default 4). Prometheus metrics (GET /metrics with LTI_TOOL_METRICS_TOKEN) add up every
process's counts through files in PROMETHEUS_MULTIPROC_DIR (default: a folder of its own in the temp folder,
emptied on start and removed on exit). Grades are delivered by separate worker processes
(`scripts/flask grades worker`), not by these. LTI_TOOL_ACCESS_LOG: access log file or "-" (default none); it
never shows session tokens (lti_tool/gunicorn_logging.py).
"""

import contextlib
import glob
import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("LTI_TOOL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("LTI_TOOL_WEB_WORKERS", max(2, 2 * multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("LTI_TOOL_WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Request line and header limits (bodies are limited by the app: MAX_CONTENT_LENGTH).
limit_request_line = 8190
limit_request_fields = 100
accesslog = os.environ.get("LTI_TOOL_ACCESS_LOG") or None  # a file, or "-" for stdout
# gunicorn's usual line plus the request id the tool answered with (X-Request-ID), as on the tool's own lines.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms %({x-request-id}o)s'
logger_class = "lti_tool.gunicorn_logging.RedactingLogger"  # session tokens in paths are not logged
errorlog = "-"
# The app's ProxyFix (LTI_TOOL_PROXY_FIX) handles X-Forwarded-*; gunicorn itself trusts only local proxies.
forwarded_allow_ips = "127.0.0.1,::1"

# Prometheus multi-process mode: set before the workers import the app (prometheus_client reads it then).
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"nama-lti-metrics-{os.getpid()}")
)


def on_starting(server):
    """Counts of an earlier run would be added to this one's: start from an empty folder."""
    os.makedirs(metrics_dir, exist_ok=True)
    for stale in glob.glob(os.path.join(metrics_dir, "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    """A worker that ended keeps its counters in the sums; its live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_dir)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _glibc():
    """The C library if it is glibc (mallopt and malloc_trim are glibc's), else None (e.g. musl)."""
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    with contextlib.suppress(OSError):
        libc = ctypes.CDLL(libc_name)
        if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
            return libc
    return None


def post_fork(server, worker):
    """glibc gives every thread that allocates its own malloc arena (up to 8 per core), and memory freed in one is
    not reused by another: with LTI_TOOL_WEB_THREADS threads a worker's RSS creeps up. LTI_TOOL_MALLOC_ARENAS
    (default 2; 0 leaves glibc's default) caps the arenas of each worker; set before its threads start."""
    arenas = int(os.environ.get("LTI_TOOL_MALLOC_ARENAS", "2"))
    libc = _glibc() if arenas > 0 else None
    if libc is not None:
        libc.mallopt(-8, arenas)  # M_ARENA_MAX


def post_worker_init(worker):
    """glibc returns memory that was freed in the middle of its heaps to the system only when asked: every
    LTI_TOOL_MALLOC_TRIM_SECONDS (default 30; 0: never) a worker's thread calls malloc_trim, which hands back the
    free pages of every arena (a millisecond or two). Measured in bench/load.py runs: ~2 MB less RSS per worker
    (bench/FINDINGS.md)."""
    every = float(os.environ.get("LTI_TOOL_MALLOC_TRIM_SECONDS", "30"))
    libc = _glibc() if every > 0 else None
    if libc is None:
        return
    import threading
    import time

    def trim() -> None:
        while True:
            time.sleep(every)
            libc.malloc_trim(0)

    threading.Thread(target=trim, name="malloc-trim", daemon=True).start()
