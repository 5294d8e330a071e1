"""PostgreSQL's CPU for one database's work, while other sessions use the same server.

Which database a PostgreSQL process works for is in its process title (/proc/<pid>/cmdline, `update_process_title`
is on by default on Linux): a client backend is `postgres: [<cluster name>: ]<user> <database> <host(port)>
<activity>`, an autovacuum worker `... autovacuum worker <database>`, a parallel worker `... parallel worker for PID
<leader>`. The postmaster, checkpointer, background writer, walwriter, the launchers and the like work for every
database: this module counts them for a database in proportion to its backends' share of all backends' CPU in the
same interval.

Each sample reads every PostgreSQL process and adds what each used since the previous sample, named by pid and
start time: a process that started in between counts from 0, one that exited in between is not there to read, so
what it used after the previous sample is lost (sample more often to lose less). The counters only grow, so the
difference of two samples is the CPU in between, whichever backends came and went.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import procinfo

_PREFIX = "postgres: "
# <user> <database> <host(port)> or [local], after the start of the title or after "<cluster name>: "
_BACKEND = re.compile(r"(?:^|: )\S+ (\S+) (?:\S+\(\d+\)|\[local\])(?: |$)")
_AUTOVACUUM = re.compile(r"(?:^|: )autovacuum worker(?: (\S+))?")
_PARALLEL = re.compile(r"(?:^|: )parallel worker for PID (\d+)")

# The counters a sample returns, in CPU seconds since the first sample.
KEYS = ("postgres_cpu", "postgres_backends_cpu", "postgres_shared_cpu", "postgres_all_cpu")


def backend_database(title: str) -> str | None:
    """The database of a client backend, from its process title; None for any other process."""
    if not title.startswith(_PREFIX):
        return None
    m = _BACKEND.search(title[len(_PREFIX) :])
    return m[1] if m else None


def database_of(title: str, leaders: Mapping[int, str]) -> str | None:
    """The database a PostgreSQL process works for: a client backend's, an autovacuum worker's, a parallel
    worker's leader's (leaders: backend pid -> its database); "" for one bound to a database its title does not
    name; None for the processes shared by all databases (the postmaster, whose title is its command line,
    checkpointer, background writer, walwriter, launchers, ...)."""
    database = backend_database(title)
    if database is not None or not title.startswith(_PREFIX):
        return database
    rest = title[len(_PREFIX) :]
    if m := _AUTOVACUUM.search(rest):
        return m[1] or ""
    if m := _PARALLEL.search(rest):
        return leaders.get(int(m[1]), "")
    return None


def postgres_readings() -> list[procinfo.Reading]:
    return procinfo.readings(procinfo.pids_named("postgres"))


class PostgresCpu:
    """CPU seconds of the PostgreSQL processes that work for `database` (None: a target without one, whose
    counters stay 0 but postgres_all_cpu), counted from the first sample on."""

    def __init__(
        self, database: str | None, read: Callable[[], list[procinfo.Reading]] | None = None
    ) -> None:
        self.database = database
        self.read = read or postgres_readings
        self.totals = dict.fromkeys(KEYS, 0.0)
        self.last: dict[tuple[int, int], float] | None = None

    def sample(self) -> dict[str, float]:
        """Counters in CPU seconds: postgres_cpu = postgres_backends_cpu (the database's backends, autovacuum and
        parallel workers) + postgres_shared_cpu (its share of the shared processes); postgres_all_cpu = every
        PostgreSQL process's, whatever it works for."""
        now = self.read()
        leaders = {r.pid: db for r in now if (db := backend_database(r.title)) is not None}
        ours = others = shared = 0.0
        if self.last is not None:
            for r in now:
                used = r.cpu - self.last.get((r.pid, r.start), 0.0)
                database = database_of(r.title, leaders)
                if database is None:
                    shared += used
                elif database == self.database:
                    ours += used
                else:
                    others += used
        share = shared * ours / (ours + others) if ours + others > 0 else 0.0
        self.totals["postgres_backends_cpu"] += ours
        self.totals["postgres_shared_cpu"] += share
        self.totals["postgres_cpu"] += ours + share
        self.totals["postgres_all_cpu"] += ours + others + shared
        self.last = {(r.pid, r.start): r.cpu for r in now}
        return dict(self.totals)
