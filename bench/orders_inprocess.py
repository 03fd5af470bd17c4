"""Benchmark: what one order costs in CPU, in-process, through the service and through Flask.

The HTTP benchmark (orders_http.py) measures throughput, which on a shared machine moves with
everyone else's load; CPU time per order moves much less. Per engine, on a fresh database:

1. set-up through the Flask test client (as orders_http.py does over HTTP): an operator, a
   university, two inventors and 8 traders with keys, 3 listed assets (hku-2023, HKD), units and
   cash for every trader;
2. 200 untimed orders, then `--orders` random GTC limit orders (the same generator as
   orders_http.py: price within +-10 ticks of 10.00, quantity 1..20) one at a time through the
   Flask test client (`POST /v1/orders`: auth, rate limiter, schema, service, response), then
   as many straight into `exchange.services.trading.place_order`, then through Flask again,
   then as many book reads (`GET /v1/instruments/{id}/book`), then orders each followed by a
   book read;
   CPU (process time) and wall time per order, on PostgreSQL the CPU time of the server
   processes serving the benchmark's database (from /proc, so only with a local server), and
   the SQL statements and journal entries per order (counted on every engine of the app,
   including the API-key lookup's own on SQLite).

    python bench/orders_inprocess.py [--engines sqlite,postgresql] [--orders 500] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchlib import create_pg_database, drop_pg_database, machine_lines, parse_engines, say
from sqlalchemy import Engine, NullPool, create_engine, event, select, text

import migrations
from api.app import create_app
from api.config import Settings
from exchange.services import trading
from ledger.actor import Actor
from ledger.models import JournalHead
from ledger.services import parties
from ledger.signing_key import load_or_create_signing_key
from ledger.unit_of_work import UnitOfWork

SEED = 20260104


def run(url: str, home: Path, orders: int, profile: bool) -> None:
    load_or_create_signing_key(home)
    app = create_app(Settings(database_url=url, home=home, origin="bench/journal",
                              write_rate_limit="1000000 per minute"))
    rt = app.extensions["ipx"]
    client = app.test_client()
    _, op_key = parties.bootstrap_operator(UnitOfWork(rt.sessions))

    def call(key: str, path: str, body: Any = None) -> Any:
        got = client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
        if got.status_code >= 300:
            raise SystemExit(f"POST {path} -> {got.status_code}: {got.json}")
        return got.json

    def party(kind: str, name: str) -> tuple[str, str]:
        made = call(op_key.key, "/v1/parties", {"name": name, "kind": kind})
        return made["id"], call(op_key.key, f"/v1/parties/{made['id']}/api-keys")["key"]

    university = party("university", "University")
    inventors = [party("inventor", f"Inventor {i}") for i in range(2)]
    traders = [party("investor", f"Trader {i}") for i in range(8)]
    instruments = []
    for a in range(3):
        listing = call(university[1], "/v1/assets", {
            "title": f"Bench patent {a}", "kind": "patent", "jurisdiction": "EP",
            "inventors": [{"party_id": p, "share": "0.5"} for p, _ in inventors],
            "policy": "hku-2023", "currency": "HKD"})
        instruments.append(next(i["id"] for i in listing["instruments"]
                                if i["class"] == "inventor"))
    for _, key in inventors:
        for instrument in instruments:
            for trader, _ in traders:
                call(key, "/v1/unit-transfers", {"instrument_id": instrument,
                                                 "to_party_id": trader, "units": 25_000,
                                                 "reference": "bench"})
    for trader, _ in traders:
        call(op_key.key, "/v1/deposits", {"party_id": trader, "reference": f"bench-{trader}",
                                          "amount": {"amount": "10000000.00",
                                                     "currency": "HKD"}})
    actors = {key: Actor(p, "investor") for p, key in traders}
    rng = random.Random(SEED)

    def bodies(n: int) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for _ in range(n):
            ticks = 1000 + rng.randint(-10, 10)
            out.append((rng.choice(traders)[1], {
                "instrument_id": rng.choice(instruments), "side": rng.choice(("buy", "sell")),
                "type": "limit", "price": f"{ticks // 100}.{ticks % 100:02d}",
                "quantity": rng.randint(1, 20)}))
        return out

    def http(batch: list[tuple[str, dict[str, Any]]]) -> None:
        for key, body in batch:
            got = client.post("/v1/orders", json=body, headers={"Authorization": f"Bearer {key}"})
            if got.status_code != 201:
                raise SystemExit(f"order -> {got.status_code}: {got.json}")

    def service(batch: list[tuple[str, dict[str, Any]]]) -> None:
        for key, body in batch:
            trading.place_order(UnitOfWork(rt.sessions), actors[key], trading.OrderRequest(
                **{**body, "price": Decimal(body["price"])}))

    def size() -> int:
        with rt.engine.connect() as c:
            return int(c.execute(select(JournalHead.size)).scalar_one())

    def server_cpu() -> dict[int, float]:
        """CPU seconds so far of every PostgreSQL backend serving this database (not this
        query's own), read from /proc: the server's share of an order's cost."""
        if rt.engine.dialect.name != "postgresql":
            return {}
        # A connection of its own: one from the app's pool would be the backend to measure.
        with create_engine(rt.engine.url, poolclass=NullPool).connect() as c:
            pids = c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = "
                                  "current_database() AND pid <> pg_backend_pid()")).scalars()
            seconds = {}
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            return seconds

    def timed(label: str, how: Callable[[list[tuple[str, dict[str, Any]]]], None]) -> None:
        statements: Counter[str] = Counter()

        def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            statements[statement.split(None, 1)[0].upper()] += 1

        batch = bodies(orders)
        before = size()
        server_before = server_cpu()
        event.listen(Engine, "before_cursor_execute", count)
        cpu, wall = time.process_time(), time.perf_counter()
        how(batch)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        event.remove(Engine, "before_cursor_execute", count)
        server_after = server_cpu()
        entries = size() - before
        server = ""
        if server_after:
            used = sum(t - server_before.get(pid, 0.0) for pid, t in server_after.items())
            server = f" + {used / orders * 1000:.2f} ms PostgreSQL server CPU"
        say(f"  {label}: {cpu / orders * 1000:.2f} ms CPU per order{server} "
            f"({wall / orders * 1000:.2f} ms wall); {entries / orders:.2f} journal entries and "
            f"{sum(statements.values()) / orders:.1f} SQL statements per order ("
            + ", ".join(f"{k} {v / orders:.1f}" for k, v in statements.most_common()) + ")")

    def book_reads(batch: list[tuple[str, dict[str, Any]]]) -> None:
        for key, body in batch:
            got = client.get(f"/v1/instruments/{body['instrument_id']}/book",
                             headers={"Authorization": f"Bearer {key}"})
            if got.status_code != 200:
                raise SystemExit(f"book -> {got.status_code}: {got.json}")

    def interleaved(batch: list[tuple[str, dict[str, Any]]]) -> None:
        for item in batch:
            http([item])
            book_reads([item])

    http(bodies(200))
    timed("through Flask (test client)", http)
    timed("service only (place_order)", service)
    timed("through Flask again", http)
    # Traffic as a client sees it mixes reads with orders: a read's unit of work must not
    # make the next order plan its statements again.
    timed("book reads only (GET .../book), per read", book_reads)
    timed("an order then a book read, per pair", interleaved)
    if profile:
        # CPU time, not wall time: on PostgreSQL waiting for the server would otherwise
        # dominate the profile and hide what the worker itself spends.
        profiler = cProfile.Profile(time.process_time)
        batch = bodies(orders)
        profiler.enable()
        http(batch)
        profiler.disable()
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        say(buffer.getvalue())
    rt.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--orders", type=int, default=500, help="timed orders per loop")
    parser.add_argument("--profile", action="store_true", help="cProfile one more loop")
    args = parser.parse_args(argv)
    for line in machine_lines(with_pg=False):
        say(line)
    for name in parse_engines(args.engines):
        with tempfile.TemporaryDirectory(prefix="ipx-bench-inproc-") as folder:
            tmp = Path(folder)
            if name == "sqlite":
                url = f"sqlite:///{tmp / 'ipx.sqlite3'}"
                migrations.upgrade(url)
                say(f"\nsqlite ({url})")
                run(url, tmp / "home", args.orders, args.profile)
            else:
                db, url = create_pg_database(f"ipx_bench_inproc_{secrets.token_hex(2)}")
                try:
                    migrations.upgrade(url)
                    say(f"\npostgresql ({db})")
                    run(url, tmp / "home", args.orders, args.profile)
                finally:
                    drop_pg_database(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
