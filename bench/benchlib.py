"""Shared helpers of the benchmarks: engines, throwaway PostgreSQL databases, the machine, stats.

Not a test helper and not part of the product: the benchmarks print figures, they assert nothing
about time.
"""

from __future__ import annotations

import os
import platform
import secrets
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
ENGINES = ("sqlite", "postgresql")
PG_ADMIN_URL = os.environ.get("IPX_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def parse_engines(text: str) -> list[str]:
    engines = [e.strip() for e in text.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise SystemExit(f"--engines: expected a comma list of {', '.join(ENGINES)}, got {text!r}")
    return engines


# --- PostgreSQL -----------------------------------------------------------------------------

def pg_problem() -> str | None:
    """None if the admin database answers, else why not (one line)."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        text = str(error).strip()
        return text.splitlines()[0] if text else repr(error)


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def pg_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def create_pg_database(prefix: str) -> tuple[str, str]:
    """A new, empty database; returns (name, URL)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    return name, pg_url(name)


def drop_pg_database(name: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_settings(url: str, names: Iterable[str]) -> dict[str, str]:
    with psycopg.connect(url) as connection:
        return {n: str(connection.execute(f"SHOW {n}").fetchone()[0])  # type: ignore[index]
                for n in names}


# --- the machine ----------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine_lines(with_pg: bool) -> list[str]:
    import sqlalchemy

    lines = [
        f"machine: {os.cpu_count()} CPUs ({_cpu_model()}), {_memory()} RAM, {platform.system()} "
        f"{platform.release()}",
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}",
        f"speed of this spell: {reference_loop():.2f} s for a reference loop (best of 3)",
    ]
    if with_pg:
        try:
            with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as connection:
                row = connection.execute("SHOW server_version").fetchone()
            lines.append(f"PostgreSQL {row[0] if row else '?'} at {PG_ADMIN_URL}")
        except psycopg.Error:
            pass
    return lines


def reference_loop() -> float:
    """Seconds for a fixed pure-Python loop (10,000,000 additions), best of three. The same
    code on the same kind of machine has run 1.7x slower in one spell than in another, so
    each run of a benchmark prints this beside its figures: compare runs by it."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best


# --- statistics -----------------------------------------------------------------------------

def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100), at least 1
    return sorted_values[int(rank) - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "median": statistics.median(ms),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": ms[-1],
        "mean": statistics.fmean(ms),
    }


def say(*parts: object) -> None:
    print(*parts, flush=True)


def warn(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)
