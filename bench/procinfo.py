"""Process facts from /proc (Linux): a process tree, CPU seconds, peak and proportional memory."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'
    return raw[raw.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """root and all its descendants (by scanning /proc for parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return sorted(out)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the given processes (children that exited are not included)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / CLK_TCK


@dataclass(frozen=True)
class Reading:
    """One process at one moment. pid and start together name the process: the kernel reuses pids."""

    pid: int
    start: int  # clock ticks after boot when it started
    title: str  # the command line, arguments joined by spaces (PostgreSQL writes its process title there)
    cpu: float  # user + system CPU seconds so far


def readings(pids: list[int]) -> list[Reading]:
    """The given processes now (those that exited meanwhile are left out)."""
    out = []
    for pid in pids:
        fields = _stat_fields(pid)
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields:
            cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15 of stat)
            out.append(Reading(pid, int(fields[19]), title.strip(), cpu))  # starttime: field 22
    return out


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def memory(pids: list[int]) -> dict[str, Any]:
    """Peak RSS (VmHWM) per process, and the current PSS sum (shared pages split between processes)."""
    per = [
        {
            "pid": pid,
            "comm": comm(pid),
            "peak_rss_mb": round(_status_kb(pid, "VmHWM") / 1024, 1),
            "rss_mb": round(_status_kb(pid, "VmRSS") / 1024, 1),
            "pss_mb": round(_pss_kb(pid) / 1024, 1),
        }
        for pid in pids
    ]
    per = [p for p in per if p["peak_rss_mb"] > 0]  # the shell of up.sh is gone after exec; skip zombies
    return {
        "processes": len(per),
        "per_process": per,
        "peak_rss_max_mb": max((p["peak_rss_mb"] for p in per), default=0.0),
        "peak_rss_sum_mb": round(sum(p["peak_rss_mb"] for p in per), 1),
        "pss_sum_mb": round(sum(p["pss_mb"] for p in per), 1),
    }


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return (total - idle) / CLK_TCK, total / CLK_TCK


def pids_named(prefix: str) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and comm(int(e)).startswith(prefix)]


def settle(pids_fn: Any, quiet_cpu_s: float = 0.05, interval: float = 0.5, timeout: float = 30.0) -> float:
    """Wait until the processes use less than quiet_cpu_s CPU per interval (e.g. workers done booting)."""
    start = time.monotonic()
    last = cpu_seconds(pids_fn())
    while time.monotonic() - start < timeout:
        time.sleep(interval)
        now = cpu_seconds(pids_fn())
        if now - last < quiet_cpu_s:
            break
        last = now
    return time.monotonic() - start


def wait_for_quiet(max_busy_cores: float, timeout: float, window: float = 1.0) -> float:
    """Wait (up to timeout) until the whole machine is below max_busy_cores for one window.

    Returns the busy cores measured in the last window (other sessions' work shares this machine)."""
    deadline = time.monotonic() + timeout
    while True:
        b0, _ = system_cpu()
        w0 = time.monotonic()
        time.sleep(window)
        b1, _ = system_cpu()
        busy = (b1 - b0) / (time.monotonic() - w0)
        if busy <= max_busy_cores or time.monotonic() >= deadline:
            return busy
