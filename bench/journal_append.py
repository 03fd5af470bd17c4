"""Benchmark: journal appends, one entry per committed transaction, against a bare INSERT + COMMIT.

For each engine, in one run and on one freshly migrated database with one engine (the app's own
settings from `ledger.db.make_engine`):

* journal: `with UnitOfWork(sessions) as uow: uow.journal.append(...); uow.commit()`, a realistic
  small body (party created / API key issued / cost recorded), one entry per transaction;
* bare: `with engine.begin() as c: c.execute(INSERT one row)` into a plain two-column table,
  the row holding a body of the same size;
* session (for the interpretation only): the bare INSERT, but through `UnitOfWork` and its ORM
  session, which separates the cost of the unit of work from the cost of the journal itself.

The three loops run interleaved in 10 rounds after a warm-up, so drift (page cache, WAL growth,
checkpoints, autovacuum, other processes) hits them alike. Prints entries/s and the journal/bare
ratio (goal: at least 0.5), with its spread over the rounds. Afterwards the journal is verified
with `ledger.audit.verify_journal`, so the figures are of correct appends. A benchmark, not a
test: nothing here asserts on time.

    python bench/journal_append.py [--count 3000] [--engines sqlite,postgresql] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib import (
    create_pg_database,
    drop_pg_database,
    machine_lines,
    parse_engines,
    pg_problem,
    pg_settings,
    say,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, Table, Text, insert

import migrations
from ledger.audit import verify_journal
from ledger.canonical import canonical_bytes
from ledger.db import make_engine, make_session_factory
from ledger.unit_of_work import UnitOfWork

ROUNDS = 10
GOAL = 0.5

bare_metadata = MetaData()
bare_table = Table(
    "bench_bare", bare_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    Column("body", Text, nullable=False),
)


def _id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(80):020x}"


def workload(n: int, seed: int = 7) -> list[tuple[str, dict[str, Any], str, list[str]]]:
    """`n` realistic appends (kind, data, actor, parties), built before any timing."""
    rng = random.Random(seed)
    operator = _id(rng, "pty")
    parties = [_id(rng, "pty") for _ in range(200)]
    names = ["University of Leiden", "Alice Martin", "Northwind Ventures", "ACME Licensing GmbH"]
    out: list[tuple[str, dict[str, Any], str, list[str]]] = []
    for i in range(n):
        party = rng.choice(parties)
        if i % 3 == 0:
            out.append(("party.created", {"party_id": party, "name": rng.choice(names),
                                          "kind": rng.choice(["inventor", "investor"])},
                        operator, [party]))
        elif i % 3 == 1:
            out.append(("api_key.issued", {"key_id": _id(rng, "key"), "party_id": party},
                        operator, [party]))
        else:
            minor = rng.randrange(100, 10_000_000)
            out.append(("asset.cost_recorded",
                        {"cost_id": _id(rng, "cst"), "asset_id": _id(rng, "ast"),
                         "amount": f"{minor // 100}.{minor % 100:02d}", "currency": "EUR",
                         "description": "EPO renewal fee, year 5"},
                        party, [party]))
    return out


def _body_text(kind: str, data: dict[str, Any], actor: str, seq: int) -> str:
    body = {"seq": seq, "at": "2026-01-01T00:00:00.000000Z", "kind": kind, "data": data,
            "actor": actor}
    return canonical_bytes(body).decode()


def run_engine(engine_name: str, url: str, count: int, warmup: int,
               profile: bool) -> dict[str, float]:
    engine: Engine = make_engine(url)
    sessions = make_session_factory(engine)
    bare_metadata.create_all(engine)
    ops = workload(warmup + count)
    texts = [_body_text(k, d, a, i + 1) for i, (k, d, a, _) in enumerate(ops)]
    bare_insert = insert(bare_table)
    bare_ids = iter(range(1, 10 * (warmup + count) + 1))

    def journal(i: int) -> None:
        kind, data, actor, parties = ops[i]
        with UnitOfWork(sessions) as uow:
            uow.journal.append(kind, data, actor=actor, parties=parties)
            uow.commit()

    def bare(i: int) -> None:
        with engine.begin() as connection:
            connection.execute(bare_insert, {"id": next(bare_ids), "body": texts[i]})

    def session(i: int) -> None:
        with UnitOfWork(sessions) as uow:
            uow.session.execute(bare_insert, {"id": next(bare_ids), "body": texts[i]})
            uow.commit()

    loops: dict[str, Callable[[int], None]] = {"bare": bare, "journal": journal,
                                               "session": session}
    for i in range(warmup):
        for fn in loops.values():
            fn(i)

    elapsed = dict.fromkeys(loops, 0.0)
    ratios: list[float] = []
    profiler = cProfile.Profile() if profile else None
    bounds = [warmup + count * r // ROUNDS for r in range(ROUNDS + 1)]
    for r in range(ROUNDS):
        order = list(loops) if r % 2 == 0 else list(reversed(loops))
        this_round: dict[str, float] = {}
        for name in order:
            fn = loops[name]
            if profiler is not None and name == "journal":
                profiler.enable()
            t0 = time.perf_counter()
            for i in range(bounds[r], bounds[r + 1]):
                fn(i)
            this_round[name] = time.perf_counter() - t0
            elapsed[name] += this_round[name]
            if profiler is not None and name == "journal":
                profiler.disable()
        ratios.append(this_round["bare"] / this_round["journal"])

    with sessions() as s:
        report = verify_journal(s, Ed25519PrivateKey.generate().public_key(), "bench/journal")
    engine.dispose()
    if not report.ok or report.entries != warmup + count:
        raise SystemExit(f"{engine_name}: journal verification FAILED: {report}")

    rates = {name: count / seconds for name, seconds in elapsed.items()}
    ratio = rates["journal"] / rates["bare"]
    say(f"  bare INSERT+COMMIT (Core):     {rates['bare']:9.0f} rows/s   "
        f"({elapsed['bare'] / count * 1e6:7.0f} us each)")
    say(f"  same INSERT via UnitOfWork:    {rates['session']:9.0f} rows/s   "
        f"({elapsed['session'] / count * 1e6:7.0f} us each)")
    say(f"  journal append via UnitOfWork: {rates['journal']:9.0f} entries/s"
        f" ({elapsed['journal'] / count * 1e6:7.0f} us each)")
    say(f"  ratio journal/bare: {ratio:.2f} (goal >= {GOAL}: "
        f"{'met' if ratio >= GOAL else 'NOT met'}); per round min {min(ratios):.2f}, "
        f"median {statistics.median(ratios):.2f}, max {max(ratios):.2f}")
    say(f"  journal verified with verify_journal: {report.entries} entries intact; "
        f"load average now {os.getloadavg()[0]:.2f}")
    if profiler is not None:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(30)
        say(buffer.getvalue())
    return {"bare": rates["bare"], "session": rates["session"], "journal": rates["journal"],
            "ratio": ratio}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000,
                        help="timed transactions per loop and engine (default 3000)")
    parser.add_argument("--warmup", type=int, default=300,
                        help="untimed transactions per loop first (default 300)")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma list of sqlite, postgresql (default both)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the journal loop and print the top functions")
    args = parser.parse_args(argv)
    engines = parse_engines(args.engines)
    if args.count < ROUNDS:
        raise SystemExit(f"--count must be at least {ROUNDS}")

    problem = pg_problem() if "postgresql" in engines else None
    for line in machine_lines(with_pg="postgresql" in engines and problem is None):
        say(line)
    say(f"journal append: {args.count} timed transactions per loop ({args.warmup} warm-up), "
        f"{ROUNDS} interleaved rounds, one entry per transaction; "
        f"load average {os.getloadavg()[0]:.2f}")
    for name in engines:
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="ipx-bench-append-") as tmp:
                url = f"sqlite:///{Path(tmp) / 'ipx.sqlite3'}"
                migrations.upgrade(url)
                say(f"\nsqlite ({url}; WAL, synchronous=NORMAL, BEGIN IMMEDIATE, as the app)")
                run_engine(name, url, args.count, args.warmup, args.profile)
            continue
        if problem is not None:
            say(f"\npostgresql: SKIPPED, no server at the admin URL: {problem}")
            continue
        db, url = create_pg_database(f"ipx_bench_append_{secrets.token_hex(2)}")
        try:
            migrations.upgrade(url)
            settings = pg_settings(url, ["synchronous_commit", "fsync", "wal_sync_method",
                                         "shared_buffers"])
            say(f"\npostgresql (fresh database {db}; "
                + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")")
            run_engine(name, url, args.count, args.warmup, args.profile)
        finally:
            drop_pg_database(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
