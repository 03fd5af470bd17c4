"""Benchmark: proofs served from a 1,000,000-entry journal, and `ipx ledger verify` over it.

Per engine:

1. Build the journal fast, bypassing the services but writing exactly what `JournalWriter`
   writes: bodies `{"seq", "at", "kind", "data", "actor"[, "postings"]}` encoded with
   `ledger.canonical.canonical_bytes`, their leaf hashes, the hash chain (`chain_next`), every
   perfect Merkle node `MerkleFrontier.append` completes, the parties each entry names, and the
   journal head; bulk inserted in batches (executemany on SQLite, binary COPY on PostgreSQL).
   The SQLite file is cached under bench/results/ by entry count (`--rebuild` to redo it); a
   PostgreSQL database is built fresh each run and dropped afterwards.
2. Sign one checkpoint through `ledger.services.transparency.latest_checkpoint`.
3. Time `transparency.inclusion_proof(UnitOfWork(sessions), seq, size)` for random seqs and
   `transparency.consistency_proof(...)` for random (first, second) pairs, one unit of work per
   proof as the API does; print median, p90, p99 and max in ms. Every proof is then verified with
   `ledger.merkle.verify_inclusion` / `verify_consistency` against roots recomputed from the
   bodies alone (one streaming pass, not from the stored Merkle nodes), so the figures are of
   correct proofs.
4. Run `ipx ledger verify` as a subprocess under `/usr/bin/time -v`; print wall time and peak RSS.

A benchmark, not a test: it prints figures and asserts nothing about time.

    python bench/proofs.py [--entries 1000000] [--engines sqlite,postgresql] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from benchlib import (
    RESULTS,
    create_pg_database,
    drop_pg_database,
    machine_lines,
    parse_engines,
    pg_problem,
    pg_settings,
    say,
    summary_ms,
)
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

import migrations
from ledger.canonical import canonical_bytes, leaf_hash
from ledger.clock import isoformat
from ledger.db import make_engine, make_session_factory
from ledger.journal import GENESIS_CHAIN, chain_next
from ledger.merkle import MerkleFrontier, verify_consistency, verify_inclusion
from ledger.models import JournalEntry
from ledger.services import transparency
from ledger.services.transparency import LogIdentity
from ledger.signing_key import load_or_create_signing_key
from ledger.unit_of_work import UnitOfWork

ORIGIN = "bench.ipx.local/journal"
SEED = 20260101
BATCH = 50_000
START = datetime(2026, 1, 1, tzinfo=UTC)
GOALS = "goals: proofs median < 2 ms and p99 < 10 ms; verify < 10 s and < 300 MB"

Entry = tuple[int, str, str, bytes, bytes]  # seq, kind, body, leaf_hash, chain_hash
Node = tuple[int, int, bytes]  # level, idx, hash
Named = tuple[str, int]  # party_id, seq


# --- the synthetic journal ------------------------------------------------------------------

class JournalGenerator:
    """Entries exactly as JournalWriter.append would write them, in batches, deterministic."""

    def __init__(self, entries: int, seed: int = SEED) -> None:
        self.entries = entries
        self.rng = random.Random(seed)
        self.frontier = MerkleFrontier()
        self.chain = GENESIS_CHAIN
        self.operator = self._id("pty")
        self.parties = [self._id("pty") for _ in range(5000)]
        self.assets = [self._id("ast") for _ in range(2000)]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(80):020x}"

    def _content(self) -> tuple[str, dict[str, Any], str, set[str], list[dict[str, str]]]:
        """kind, data, actor, the parties named, postings: the shapes the services write."""
        rng = self.rng
        party = rng.choice(self.parties)
        pick = rng.random()
        if pick < 0.15:
            return ("party.created",
                    {"party_id": party, "name": f"Party {rng.randrange(10**6)}",
                     "kind": rng.choice(["university", "inventor", "investor", "company"])},
                    self.operator, {party}, [])
        if pick < 0.30:
            return ("api_key.issued", {"key_id": self._id("key"), "party_id": party},
                    self.operator, {party}, [])
        if pick < 0.55:
            minor = rng.randrange(100, 10_000_000)
            return ("asset.cost_recorded",
                    {"cost_id": self._id("cst"), "asset_id": rng.choice(self.assets),
                     "amount": f"{minor // 100}.{minor % 100:02d}", "currency": "EUR",
                     "description": "EPO renewal fee, year 5"},
                    party, {party}, [])
        minor = rng.randrange(100, 100_000_000)
        amount = f"{minor // 100}.{minor % 100:02d}"
        postings = [
            {"account": f"{party}:EUR:available", "amount": amount, "currency": "EUR"},
            {"account": "ipx:EUR:bank", "amount": f"-{amount}", "currency": "EUR"},
        ]
        return ("money.deposited", {"reference": self._id("dep"), "currency": "EUR"},
                self.operator, {party}, postings)

    def batches(self, size: int = BATCH) -> Iterator[tuple[list[Entry], list[Node], list[Named]]]:
        for start in range(1, self.entries + 1, size):
            entries: list[Entry] = []
            nodes: list[Node] = []
            named: list[Named] = []
            for seq in range(start, min(self.entries, start + size - 1) + 1):
                kind, data, actor, parties, postings = self._content()
                at = START + timedelta(milliseconds=37 * seq)
                body: dict[str, Any] = {"seq": seq, "at": isoformat(at), "kind": kind,
                                        "data": data, "actor": actor}
                if postings:
                    body["postings"] = postings
                canonical = canonical_bytes(body)
                leaf = leaf_hash(canonical)
                self.chain = chain_next(self.chain, leaf)
                nodes.extend(self.frontier.append(leaf))
                entries.append((seq, kind, canonical.decode(), leaf, self.chain))
                named.extend((p, seq) for p in sorted(parties | {actor}))
            yield entries, nodes, named


def build_sqlite(path: Path, entries: int) -> tuple[float, MerkleFrontier]:
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    t0 = time.perf_counter()
    gen = JournalGenerator(entries)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-200000")
    for rows, nodes, named in gen.batches():
        db.execute("BEGIN")
        db.executemany("INSERT INTO journal_entries (seq, kind, body, leaf_hash, chain_hash) "
                       "VALUES (?, ?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        db.executemany("INSERT INTO journal_entry_parties (party_id, seq) VALUES (?, ?)", named)
        db.execute("COMMIT")
        _progress(rows[-1][0], entries, t0)
    db.execute("UPDATE journal_head SET size = ?, chain_hash = ?, frontier = ? WHERE id = 1",
               (entries, gen.chain, gen.frontier.to_bytes()))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - t0, gen.frontier


def build_postgresql(url: str, entries: int) -> tuple[float, MerkleFrontier]:
    migrations.upgrade(url)
    t0 = time.perf_counter()
    gen = JournalGenerator(entries)
    copies = [
        ("COPY journal_entries (seq, kind, body, leaf_hash, chain_hash) FROM STDIN (FORMAT BINARY)",
         ["int8", "varchar", "text", "bytea", "bytea"]),
        ("COPY merkle_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)",
         ["int4", "int8", "bytea"]),
        ("COPY journal_entry_parties (party_id, seq) FROM STDIN (FORMAT BINARY)",
         ["varchar", "int8"]),
    ]
    with psycopg.connect(url) as db:
        for batch in gen.batches():
            with db.cursor() as cursor:
                for (sql, types), rows in zip(copies, batch, strict=True):
                    with cursor.copy(sql) as copy:  # type: ignore[arg-type]
                        copy.set_types(types)
                        for row in rows:
                            copy.write_row(row)
            db.commit()
            _progress(batch[0][-1][0], entries, t0)
        db.execute("UPDATE journal_head SET size = %s, chain_hash = %s, frontier = %s "
                   "WHERE id = 1", (entries, gen.chain, gen.frontier.to_bytes()))
        db.commit()
    load = time.perf_counter() - t0
    # A table grown by inserts gets autovacuumed and analysed; do it now rather than mid-run.
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("VACUUM ANALYZE")
    say(f"  (load {load:.1f} s, then VACUUM ANALYZE {time.perf_counter() - t0 - load:.1f} s)")
    return time.perf_counter() - t0, gen.frontier


def _progress(done: int, total: int, t0: float) -> None:
    if done % (total // 5 or 1) < BATCH or done == total:
        say(f"  built {done:>9,} / {total:,} entries  {time.perf_counter() - t0:6.1f} s")


# --- measurements ---------------------------------------------------------------------------

def independent_roots(engine: Engine, sizes: set[int], seqs: set[int]
                      ) -> tuple[dict[int, bytes], dict[int, bytes], float]:
    """Roots at `sizes` and leaf hashes of `seqs`, recomputed from the bodies alone."""
    t0 = time.perf_counter()
    frontier = MerkleFrontier()
    roots: dict[int, bytes] = {}
    leaves: dict[int, bytes] = {}
    last = 0
    with engine.connect() as connection:
        while True:
            rows = connection.execute(
                select(JournalEntry.seq, JournalEntry.body).where(JournalEntry.seq > last)
                .order_by(JournalEntry.seq).limit(BATCH)).all()
            if not rows:
                break
            for seq, body in rows:
                leaf = leaf_hash(body.encode())
                frontier.append(leaf)
                if seq in seqs:
                    leaves[seq] = leaf
                if seq in sizes:
                    roots[seq] = frontier.root()
            last = rows[-1][0]
    return roots, leaves, time.perf_counter() - t0


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _hit(self, *_: Any) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hit)


def measure_proofs(engine: Engine, sessions: sessionmaker[Session], size: int, root: bytes,
                   count: int, warmup: int) -> None:
    rng = random.Random(SEED + 1)
    seqs = [rng.randint(1, size) for _ in range(count)]
    pairs = []
    for _ in range(count):
        second = rng.randint(2, size)
        pairs.append((rng.randint(1, second - 1), second))

    def inclusion(seq: int) -> dict[str, Any]:
        return transparency.inclusion_proof(UnitOfWork(sessions), seq, size)

    def consistency(pair: tuple[int, int]) -> dict[str, Any]:
        return transparency.consistency_proof(UnitOfWork(sessions), *pair)

    warm = random.Random(SEED + 2)
    with StatementCounter(engine) as counter:
        for _ in range(warmup):
            inclusion(warm.randint(1, size))
    per_inclusion = counter.count / warmup
    with StatementCounter(engine) as counter:
        for _ in range(warmup):
            second = warm.randint(2, size)
            consistency((warm.randint(1, second - 1), second))
    per_consistency = counter.count / warmup

    results: dict[str, tuple[list[float], list[dict[str, Any]]]] = {}
    for name, fn, args in (("inclusion", inclusion, seqs), ("consistency", consistency, pairs)):
        times: list[float] = []
        proofs: list[dict[str, Any]] = []
        clock = time.perf_counter
        for arg in args:
            t0 = clock()
            proof = fn(arg)  # type: ignore[operator]
            times.append(clock() - t0)
            proofs.append(proof)
        results[name] = (times, proofs)

    for name, statements in (("inclusion", per_inclusion), ("consistency", per_consistency)):
        times, proofs = results[name]
        s = summary_ms(times)
        hashes = sum(len(p["path"]) for p in proofs) / len(proofs)
        say(f"  {name:<11} n={s['n']}: median {s['median']:.3f} ms, p90 {s['p90']:.3f}, "
            f"p99 {s['p99']:.3f}, max {s['max']:.3f} (mean {s['mean']:.3f}); "
            f"{hashes:.1f} hashes/proof, {statements:.1f} SQL statements/proof")

    # Verify every proof against roots recomputed from the bodies, not from stored nodes.
    sizes = {size} | {f for f, _ in pairs} | {s for _, s in pairs}
    roots, leaves, seconds = independent_roots(engine, sizes, set(seqs))
    if roots[size] != root:
        raise SystemExit("the checkpoint root differs from the root recomputed from the bodies")
    ok_inclusion = sum(
        verify_inclusion(leaves[p["seq"]], p["leaf_index"], p["tree_size"],
                         [bytes.fromhex(h) for h in p["path"]], root)
        for p in results["inclusion"][1])
    ok_consistency = sum(
        verify_consistency(p["first"], p["second"], roots[p["first"]], roots[p["second"]],
                           [bytes.fromhex(h) for h in p["path"]])
        for p in results["consistency"][1])
    say(f"  verified against roots recomputed from the bodies ({seconds:.1f} s pass): "
        f"inclusion {ok_inclusion}/{count}, consistency {ok_consistency}/{count}")
    if ok_inclusion != count or ok_consistency != count:
        raise SystemExit("some proofs did NOT verify: the timings above are not of correct proofs")


def run_verify(url: str, home: Path) -> None:
    env = {**os.environ, "IPX_DATABASE_URL": url, "IPX_HOME": str(home),
           "IPX_LOG_ORIGIN": ORIGIN}
    ipx = Path(sys.executable).with_name("ipx")
    command = [str(ipx)] if ipx.exists() else [sys.executable, "-m", "api.cli"]
    command += ["ledger", "verify"]
    timer = Path("/usr/bin/time")
    if timer.exists():
        command = [str(timer), "-v", *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200,
                          check=False)
    wall = time.perf_counter() - t0
    cpu = ""
    if timer.exists():
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        rss_kb = int(match.group(1)) if match else -1
        how = "/usr/bin/time -v"
        times = [re.search(rf"{kind} time \(seconds\): ([\d.]+)", done.stderr)
                 for kind in ("User", "System")]
        if all(times):
            cpu = f", CPU {sum(float(m.group(1)) for m in times if m):.1f} s"
    else:
        rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        how = "getrusage(RUSAGE_CHILDREN)" + (" (may be an earlier child's)" if rss_kb == before
                                              else "")
    say(f"  ipx ledger verify: exit {done.returncode}, wall {wall:.1f} s{cpu}, "
        f"peak RSS {rss_kb / 1024:.0f} MiB ({how}); load average {os.getloadavg()[0]:.2f}")
    say(f"    {done.stdout.strip() or '(no output)'}")
    if done.returncode != 0:
        say("    " + "\n    ".join(line for line in done.stderr.splitlines()
                                    if "\t" not in line)[-2000:])


def sign(sessions: sessionmaker[Session], home: Path) -> bytes:
    identity = LogIdentity(ORIGIN, load_or_create_signing_key(home))
    checkpoint = transparency.latest_checkpoint(UnitOfWork(sessions), identity)
    return checkpoint.root_hash


def bench_engine(name: str, url: str, home: Path, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        t0 = time.perf_counter()
        root = sign(sessions, home)
        say(f"  checkpoint at size {args.entries:,} signed via latest_checkpoint in "
            f"{time.perf_counter() - t0:.2f} s; root {root.hex()}")
        measure_proofs(engine, sessions, args.entries, root, args.proofs, args.warmup)
    finally:
        engine.dispose()
    run_verify(url, home)


def sqlite_cache(args: argparse.Namespace) -> tuple[str, Path]:
    folder = RESULTS / f"sqlite-{args.entries}"
    path, home, meta = folder / "ipx.sqlite3", folder / "home", folder / "meta.json"
    if args.rebuild or not meta.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        say(f"  building {args.entries:,} entries into {path}")
        seconds, frontier = build_sqlite(path, args.entries)
        load_or_create_signing_key(home)
        meta.write_text(json.dumps({"entries": args.entries, "build_seconds": round(seconds, 1),
                                    "root": frontier.root().hex(), "origin": ORIGIN,
                                    "built": datetime.now(UTC).isoformat()}, indent=1))
        say(f"  build: {seconds:.1f} s, file {path.stat().st_size / 2**20:.0f} MiB")
    else:
        info = json.loads(meta.read_text())
        say(f"  reusing {path} (built {info['built']} in {info['build_seconds']} s, "
            f"{path.stat().st_size / 2**20:.0f} MiB; --rebuild to redo)")
    return f"sqlite:///{path}", home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000,
                        help="journal size (default 1000000)")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma list of sqlite, postgresql (default both)")
    parser.add_argument("--rebuild", action="store_true",
                        help="rebuild the cached SQLite journal even if present")
    parser.add_argument("--proofs", type=int, default=2000,
                        help="timed proofs of each kind (default 2000)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="untimed proofs of each kind first (default 200)")
    parser.add_argument("--keep-pg", action="store_true",
                        help="keep the PostgreSQL database (its name is printed)")
    args = parser.parse_args(argv)
    engines = parse_engines(args.engines)
    if args.entries < 2:
        raise SystemExit("--entries must be at least 2")

    problem = pg_problem() if "postgresql" in engines else None
    for line in machine_lines(with_pg="postgresql" in engines and problem is None):
        say(line)
    say(f"proofs and verify over a {args.entries:,}-entry journal; {GOALS}; "
        f"load average {os.getloadavg()[0]:.2f}")
    for name in engines:
        if name == "sqlite":
            say("\nsqlite")
            url, home = sqlite_cache(args)
            bench_engine(name, url, home, args)
            continue
        if problem is not None:
            say(f"\npostgresql: SKIPPED, no server at the admin URL: {problem}")
            continue
        db, url = create_pg_database("ipx_bench_proofs")
        try:
            settings = pg_settings(url, ["shared_buffers", "work_mem"])
            say(f"\npostgresql (fresh database {db}; "
                + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")")
            seconds, _ = build_postgresql(url, args.entries)
            with psycopg.connect(url) as connection:
                row = connection.execute(
                    "SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
            say(f"  build: {seconds:.1f} s, database {row[0] if row else '?'}")
            with tempfile.TemporaryDirectory(prefix="ipx-bench-home-") as tmp:
                bench_engine(name, url, Path(tmp), args)
        finally:
            if args.keep_pg:
                say(f"  kept database {db}: {url}")
            else:
                drop_pg_database(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
