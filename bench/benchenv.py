"""Where the bench scripts may put their servers and databases on a shared machine.

Several people benchmark on one machine: `NAMA_BENCH_PORTS=8600-8699` makes every server a script starts listen
on a free port of that range (default: any free port the OS gives), and `NAMA_BENCH_DB_PREFIX=nama_me` names the
PostgreSQL databases it creates `nama_me_<kind>_<id>` (default `nama_bench`).
"""

from __future__ import annotations

import os
import socket


def _range() -> tuple[int, int] | None:
    raw = os.environ.get("NAMA_BENCH_PORTS", "").strip()
    if not raw:
        return None
    lo, _, hi = raw.partition("-")
    return int(lo), int(hi or lo)


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now (in NAMA_BENCH_PORTS when set); not handed out twice by this process."""
    span = _range()
    if span is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    for port in range(span[0], span[1] + 1):
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in NAMA_BENCH_PORTS={os.environ['NAMA_BENCH_PORTS']}")


def db_name(kind: str, unique: str) -> str:
    """A PostgreSQL database name for this script's run."""
    return f"{os.environ.get('NAMA_BENCH_DB_PREFIX', 'nama_bench')}_{kind}_{unique}"
