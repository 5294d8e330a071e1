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
    found["kept"] = _kept_stores(app)
    return found


def _deep_size(obj, seen: set) -> int:
    """Bytes of `obj` and of what it holds (tuples, lists, dicts, dataclasses with slots or a __dict__), each
    object counted once across a census (shared course objects are counted where first met)."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (tuple, list, set, frozenset)):
        size += sum(_deep_size(item, seen) for item in obj)
    elif hasattr(obj, "__dataclass_fields__"):
        size += sum(_deep_size(getattr(obj, name, None), seen) for name in obj.__dataclass_fields__)
    return size


# Lookups of each kept store since the worker started: {"hits": n, "misses": n} by store name.
_LOOKUPS: dict = collections.defaultdict(lambda: {"hits": 0, "misses": 0})


def _count_lookups(app) -> None:
    """Count the kept stores' hits and misses (wrapping the product's lookups; a few instructions each)."""
    import importlib

    fragments = importlib.import_module("lti_tool.fragments")
    quiz_parts = importlib.import_module("lti_tool.course.quiz_parts")
    exchange_parts = importlib.import_module("lti_tool.course.exchange_parts")
    names: dict = {}

    def name_of(store) -> str:
        found = names.get(id(store))
        if found is None:
            found = names[id(store)] = next((n for n, s in app.extensions.items() if s is store), "?")
        return found

    kept_part = quiz_parts.kept_part

    def counted_part(parts, key, *args, **kwargs):
        if parts is not None:
            held = getattr(parts, "parts", parts)
            _LOOKUPS[name_of(parts)]["hits" if key in held else "misses"] += 1
        return kept_part(parts, key, *args, **kwargs)

    quiz_parts.kept_part = exchange_parts.kept_part = counted_part
    page = fragments.page

    def counted_page(name, key, context, holes=None, *, store="nama_pages"):
        kept = app.extensions.get(store)
        before = len(kept.pages) if kept is not None else 0
        result = page(name, key, context, holes, store=store)
        kept = app.extensions.get(store)
        grew = kept is not None and len(kept.pages) != before
        _LOOKUPS[store]["misses" if grew else "hits"] += 1
        return result

    fragments.page = counted_page


def _kept_stores(app) -> dict:
    """Entries and bytes of the per-process kept pages and parts (keys and values; shared objects once)."""
    import importlib

    out = {}
    for name, store in app.extensions.items():
        entries = getattr(store, "pages", None) or getattr(store, "parts", None)
        if entries is None and name.endswith("_parts") and isinstance(store, dict):
            entries = store
        if not isinstance(entries, dict):
            continue
        seen: set = set()
        keys = sum(_deep_size(k, seen) for k in list(entries))
        values = sum(_deep_size(v, seen) for v in list(entries.values()))
        out[name] = {
            "entries": len(entries),
            "key_bytes": keys,
            "value_bytes": values,
            **_LOOKUPS.get(name, {}),
        }
    fragments = importlib.import_module("lti_tool.fragments")
    out["fragments"] = {"entries": len(fragments._RENDERED), "bytes": _deep_size(fragments._RENDERED, set())}
    typography = importlib.import_module("lti_tool.typography")
    for attr in dir(typography):
        info = getattr(getattr(typography, attr), "cache_info", None)
        if callable(info):
            out[f"typography.{attr}"] = {"entries": info().currsize}
    return out


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


def _allocators() -> dict:
    """Where the worker's heap memory is, in kB: pymalloc's arenas (in use by objects, free in pools the arenas
    keep) from sys._debugmallocstats, and glibc's heap (in use, free but kept) from mallinfo2."""
    import ctypes
    import re
    import tempfile

    out: dict = {}
    with tempfile.TemporaryFile(mode="w+") as f:
        saved = os.dup(2)
        try:
            os.dup2(f.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read()
    for label, key in (
        ("# bytes in allocated blocks", "pymalloc_used"),
        ("# bytes in available blocks", "pymalloc_free_blocks"),
        ("unused pools", "pymalloc_free_pools"),
        ("# arenas allocated current", "pymalloc_arenas"),
        ("# bytes lost to pool headers", "pymalloc_pool_headers"),
        ("# bytes lost to quantization", "pymalloc_quantization"),
        ("# bytes lost to arena alignment", "pymalloc_alignment"),
    ):
        found = re.search(re.escape(label) + r"[^=]*=\s*([\d,]+)", text)
        if found:
            value = int(found.group(1).replace(",", ""))
            out[key] = value if key == "pymalloc_arenas" else value // 1024

    class _Info(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Info
        info = libc.mallinfo2()
        out.update(
            glibc_heap=info.arena // 1024,
            glibc_used=info.uordblks // 1024,
            glibc_free=info.fordblks // 1024,
            glibc_mmapped=info.hblkhd // 1024,
        )
    except (OSError, AttributeError):
        pass
    return out


def _census(app) -> None:
    started = time.monotonic()
    loaded = set(sys.modules)
    with (OUT / f"{os.getpid()}.census").open("a") as f:  # the worker as it starts serving
        start = {"seconds": 0, "rss_kb": _vm_rss_kb(), "blocks": sys.getallocatedblocks()}
        f.write(json.dumps({**start, "allocators": _allocators()}) + "\n")
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
            "allocators": _allocators(),
            "modules_imported_since_start": sorted(set(sys.modules) - loaded),
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
    _count_lookups(app)
    threading.Thread(target=_census, args=(app,), name="memory-census", daemon=True).start()
