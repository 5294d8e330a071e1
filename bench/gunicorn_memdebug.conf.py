"""config/gunicorn.conf.py plus a memory census of every web worker, for finding what a worker's memory grows by
under load (bench only: `bench/load.py --memdebug DIR` serves the tool with this file).

Every NAMA_BENCH_MEMDEBUG_EVERY seconds (default 60) each worker appends to DIR/<pid>.census a JSON line: seconds
since it loaded the app, VmRSS, pymalloc's allocated blocks (sys.getallocatedblocks), the objects the garbage
collector tracks by type, and the entries of the caches that could grow (SQLAlchemy's compiled statements, the
kept links). Counting costs a few ms per sample: the figures stay the soak's.
NAMA_BENCH_TRACEMALLOC_FRAMES=N (N > 0) also traces allocations from then on, with N frames, and writes a
tracemalloc snapshot DIR/<pid>-<seconds>.snap with each sample (compare two with bench/tracemalloc_diff.py);
tracing slows a worker several times and adds to its memory, so those runs measure nothing else.
NAMA_BENCH_MEMDEBUG_HOLDERS=TypeName: each census also names what holds three objects of that type that were not
there at the previous census (the referrers' types, two levels up).
"""

import collections
import gc
import json
import os
import runpy
import sys
import threading
import time
import tracemalloc
from pathlib import Path

_product = runpy.run_path(str(Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py"))
globals().update({k: v for k, v in _product.items() if not k.startswith("__")})

OUT = Path(os.environ["NAMA_BENCH_MEMDEBUG"])
EVERY = float(os.environ.get("NAMA_BENCH_MEMDEBUG_EVERY", "60"))
FRAMES = int(os.environ.get("NAMA_BENCH_TRACEMALLOC_FRAMES", "0"))


def _vm_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _caches(app) -> dict:
    found = {"links": len(getattr(app, "_links", {}))}
    db = app.extensions.get("nama_db")
    if db is not None:
        found["compiled_statements"] = len(db.engine._compiled_cache or {})
        found["pool_checked_in"] = db.engine.pool.checkedin()
    found["jinja_templates"] = len(app.jinja_env.cache or {})
    return found


HOLDERS = os.environ.get("NAMA_BENCH_MEMDEBUG_HOLDERS", "")


def _describe(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}: {repr(obj)[:120]}"


def _holders(found: list, known: set) -> list:
    """Two levels of referrers of up to three objects that are new since the last census."""
    new = [o for o in found if id(o) not in known][:3]
    held = []
    for obj in new:
        first = [r for r in gc.get_referrers(obj) if r is not found and r is not new][:4]
        held.append(
            {
                "object": _describe(obj),
                "held by": [
                    {
                        "holder": _describe(r),
                        "its holders": [
                            _describe(r2) for r2 in gc.get_referrers(r) if r2 is not first and r2 is not found
                        ][:4],
                    }
                    for r in first
                ],
            }
        )
    return held


def _census(app) -> None:
    started = time.monotonic()
    pid = os.getpid()
    known: set = set()
    while True:
        time.sleep(EVERY)
        age = round(time.monotonic() - started)
        types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        line = {
            "seconds": age,
            "rss_kb": _vm_rss_kb(),
            "blocks": sys.getallocatedblocks(),
            "objects": len(gc.get_objects()),
            "caches": _caches(app),
            "types": dict(types.most_common(150)),
        }
        if HOLDERS:
            found = [o for o in gc.get_objects() if type(o).__qualname__ == HOLDERS]
            line["holders"] = _holders(found, known)
            known = {id(o) for o in found}
            del found
        if FRAMES:
            tracemalloc.take_snapshot().dump(str(OUT / f"{pid}-{age:05d}.snap"))
            line["traced_kb"] = tracemalloc.get_traced_memory()[0] // 1024
        with (OUT / f"{pid}.census").open("a") as f:
            f.write(json.dumps(line) + "\n")


def post_worker_init(worker):
    _product["post_worker_init"](worker)
    OUT.mkdir(parents=True, exist_ok=True)
    if FRAMES:
        tracemalloc.start(FRAMES)
    app = worker.wsgi  # the Flask app (its WSGI middlewares are inside it, on app.wsgi_app)
    threading.Thread(target=_census, args=(app,), name="memory-census", daemon=True).start()
