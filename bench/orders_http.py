"""Benchmark: limit orders through the HTTP API (gunicorn), beside the journal-append ceiling.

Per engine (SQLite in a temporary folder, PostgreSQL in a fresh database):

1. `ipx init` (schema, signing key; its last output line is the operator's API key), then
   `ipx serve --workers N` as a subprocess on a free loopback port, with
   IPX_WRITE_RATE_LIMIT="1000000 per minute" so that rate limiting does not interfere; the
   benchmark waits for `GET /healthz`.
2. Set-up through the API only: the operator registers a university, two inventors and
   `--parties` traders and issues their keys; the university lists `--instruments` assets
   (policy hku-2023, HKD); the inventors give every trader units of each asset's inventor class
   (`POST /v1/unit-transfers`) and the operator deposits cash for each (`POST /v1/deposits`).
3. `--clients` threads, each with its own keep-alive `http.client` connection and trader,
   submit random GTC limit orders (`POST /v1/orders`) on the instruments: side at random,
   price uniform within +-10 ticks of 10.00, quantity 1..20, so that many cross. First
   `--warmup` orders untimed, then `--orders` timed ones (at most `--seconds`). Prints orders/s,
   latency (median, p90, p99, max), trades made, order outcomes, HTTP errors, journal entries
   appended per second, the CPU time of the gunicorn workers and of this client process, and
   how busy the whole machine was (/proc/stat, so the database server is included).
4. Stops the server, checks `ipx ledger verify` and `ipx ledger replay --check` (exit 0 both)
   and the invariants: every instrument's units all held by someone, money sums to zero per
   currency, no negative balance outside IPX's clearing account, open buy holds equal the
   held accounts.
   With `--floor`, the same clients then send as many `GET /healthz` (a database round trip,
   no key) and `GET /v1/me` (a key's lookup and one read): what the HTTP stack itself reaches
   on this machine, for orders/s to be read against.
   With `--profile N`, N more orders then go one at a time through the Flask app in this
   process (test client) under cProfile, with the SQL statements per order: where the time goes.
5. The ceiling: bench/journal_append.py's `run_engine` on a fresh database of the same engine
   (`--ceiling-count` appends; it prints its own lines, including its own journal/bare goal),
   and the goal from issue 3: orders/s at least half the journal-append rate.

Loopback only; a benchmark, not a test: it prints figures and asserts nothing about time.

    python bench/orders_http.py [--engines sqlite,postgresql] [--clients 8] [--orders 3000]
                                [--workers 2] [--seconds 120] [--parties 8] [--instruments 3]
                                [--ceiling-count 1000] [--floor] [--profile N]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import json
import os
import pstats
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    summary_ms,
)
from journal_append import run_engine
from sqlalchemy import func, select, text

import migrations
from exchange.models import Order, Trade
from ledger.db import make_engine
from ledger.models import JournalHead

HOST = "127.0.0.1"
CURRENCY = "HKD"
MID_TICKS = 1000  # 10.00 HKD at the default tick of 0.01
SPREAD_TICKS = 10
GOAL = 0.5
SEED = 20260103


# --- the server -----------------------------------------------------------------------------

def _ipx() -> list[str]:
    ipx = Path(sys.executable).with_name("ipx")
    return [str(ipx)] if ipx.exists() else [sys.executable, "-m", "api.cli"]


def _env(url: str, home: Path) -> dict[str, str]:
    return {**os.environ, "IPX_DATABASE_URL": url, "IPX_HOME": str(home),
            "IPX_WRITE_RATE_LIMIT": "1000000 per minute",
            "IPX_AUTH_FAILURE_LIMIT": "1000000 per minute"}


def ipx_init(url: str, home: Path) -> str:
    done = subprocess.run([*_ipx(), "init"], env=_env(url, home), capture_output=True,
                          text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ipx init failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1].strip()


def ipx_check(url: str, home: Path, *args: str) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    done = subprocess.run([*_ipx(), *args], env=_env(url, home), capture_output=True,
                          text=True, timeout=3600, check=False)
    out = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return done.returncode, (out[-1] if out else "(no output)"), time.perf_counter() - t0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(url: str, home: Path, port: int, workers: int, log: Path) -> Iterator[int]:
    """`ipx serve` until the block ends; yields the gunicorn master's pid."""
    with log.open("w") as err:
        server = subprocess.Popen(
            [*_ipx(), "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
            env=_env(url, home), stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"ipx serve exited with {server.returncode}; see {log}:\n"
                                     + log.read_text()[-2000:])
                with contextlib.suppress(OSError, http.client.HTTPException):
                    c = http.client.HTTPConnection(HOST, port, timeout=2)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        c.close()
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"ipx serve did not answer /healthz in 60 s; see {log}")
                time.sleep(0.2)
            yield server.pid
        finally:
            server.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of master + workers
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def worker_cpu(master: int) -> float:
    """CPU seconds (user + system) of the gunicorn master's children so far."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return float("nan")
    for pid in [str(master), *children]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def postgres_cpu() -> float:
    """CPU seconds so far of every running `postgres` process (the database server's share;
    other sessions' backends would count too, which the report would then show)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            head, _, rest = stat.read_text().rpartition(")")
            if head.endswith("(postgres"):
                fields = rest.split()
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return float(sum(fields[:8]) - idle), float(sum(fields[:8]))


# --- HTTP -----------------------------------------------------------------------------------

class Api:
    """One keep-alive connection with one party's key (gunicorn's sync workers may close it
    after a response; http.client then reconnects on the next request)."""

    def __init__(self, port: int, key: str) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                        "Connection": "keep-alive"}

    def call(self, method: str, path: str, body: Any = None,
             retry: bool = True) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body)
        try:
            self.connection.request(method, path, payload, self.headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the kept-alive connection. Set-up calls reconnect and retry
            # once (they are idempotent or fail loudly); timed orders do not, they count it.
            self.connection.close()
            if not retry:
                raise
            self.connection.request(method, path, payload, self.headers)
            response = self.connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)

    def expect(self, method: str, path: str, body: Any = None, status: int = 201) -> Any:
        got, parsed = self.call(method, path, body)
        if got != status:
            raise SystemExit(f"{method} {path} -> {got}, expected {status}: {parsed}")
        return parsed

    def close(self) -> None:
        self.connection.close()


@dataclass
class Market:
    instruments: list[str]
    traders: list[tuple[str, str]]  # (party id, key)
    units_each: int
    cash_each: str


def set_up(port: int, operator_key: str, parties: int, instruments: int) -> Market:
    op = Api(port, operator_key)

    def party(kind: str, name: str) -> tuple[str, str]:
        created = op.expect("POST", "/v1/parties", {"name": name, "kind": kind})
        key = op.expect("POST", f"/v1/parties/{created['id']}/api-keys")
        return created["id"], key["key"]

    university = party("university", "University of Leiden")
    inventors = [party("inventor", f"Inventor {i}") for i in range(2)]
    traders = [party("investor", f"Trader {i}") for i in range(parties)]
    uni = Api(port, university[1])
    ids = []
    for a in range(instruments):
        listing = uni.expect("POST", "/v1/assets", {
            "title": f"Bench patent {a}", "kind": "patent", "jurisdiction": "EP",
            "inventors": [{"party_id": p, "share": "0.5"} for p, _ in inventors],
            "policy": "hku-2023", "currency": CURRENCY})
        ids.append(next(i["id"] for i in listing["instruments"] if i["class"] == "inventor"))
    # Each inventor holds 500,000 units of each class; give each trader 40% of it in all.
    units_each = 2 * (400_000 // parties // 2)
    for inventor_id, key in inventors:
        giver = Api(port, key)
        for instrument in ids:
            for trader_id, _ in traders:
                giver.expect("POST", "/v1/unit-transfers", {
                    "instrument_id": instrument, "to_party_id": trader_id,
                    "units": units_each // 2, "reference": f"bench {inventor_id}"})
        giver.close()
    cash = "10000000.00"
    for trader_id, _ in traders:
        op.expect("POST", "/v1/deposits", {
            "party_id": trader_id, "amount": {"amount": cash, "currency": CURRENCY},
            "reference": f"bench-{trader_id}"})
    op.close()
    uni.close()
    return Market(ids, traders, units_each, cash)


# --- the load -------------------------------------------------------------------------------

@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    fills: int = 0
    errors: list[str] = field(default_factory=list)


class Load:
    """`clients` threads sharing a budget of orders and a deadline."""

    def __init__(self, port: int, market: Market, clients: int,
                 probe: str | None = None) -> None:
        """`probe`: a path to GET instead of placing orders (the `--floor` requests)."""
        self.port, self.market, self.clients, self.probe = port, market, clients, probe
        self.lock = threading.Lock()
        self.left = 0
        self.deadline = 0.0

    def _take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() > self.deadline:
                return False
            self.left -= 1
            return True

    def _client(self, index: int, result: ClientResult, start: threading.Barrier,
                phase: int) -> None:
        rng = random.Random(SEED + 1000 * phase + index)
        _, key = self.market.traders[index % len(self.market.traders)]
        api = Api(self.port, key)
        clock = time.perf_counter
        start.wait()
        try:
            while self._take():
                ticks = MID_TICKS + rng.randint(-SPREAD_TICKS, SPREAD_TICKS)
                body = {"instrument_id": rng.choice(self.market.instruments),
                        "side": rng.choice(("buy", "sell")), "type": "limit",
                        "price": f"{ticks // 100}.{ticks % 100:02d}",
                        "quantity": rng.randint(1, 20), "time_in_force": "GTC"}
                t0 = clock()
                try:
                    status, parsed = (api.call("GET", self.probe, retry=False) if self.probe
                                      else api.call("POST", "/v1/orders", body, retry=False))
                except (OSError, http.client.HTTPException) as error:
                    result.errors.append(repr(error))
                    continue
                result.latencies.append(clock() - t0)
                result.statuses[status] += 1
                if self.probe:
                    if status != 200 and len(result.errors) < 5:
                        result.errors.append(f"{status}: {parsed}")
                elif status == 201:
                    result.outcomes[parsed["status"]] += 1
                    result.fills += len(parsed["fills"])
                elif len(result.errors) < 5:
                    result.errors.append(f"{status}: {parsed}")
        finally:
            api.close()

    def run(self, orders: int, seconds: float, phase: int) -> tuple[list[ClientResult], float]:
        self.left = orders
        results = [ClientResult() for _ in range(self.clients)]
        start = threading.Barrier(self.clients + 1)
        threads = [threading.Thread(target=self._client, args=(i, results[i], start, phase),
                                    daemon=True) for i in range(self.clients)]
        for t in threads:
            t.start()
        self.deadline = time.monotonic() + seconds
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        return results, time.perf_counter() - t0


# --- per engine -----------------------------------------------------------------------------

def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return {
                "entries": c.execute(select(JournalHead.size)).scalar_one(),
                "orders": c.execute(select(func.count()).select_from(Order)).scalar_one(),
                "trades": c.execute(select(func.count()).select_from(Trade)).scalar_one(),
            }
    finally:
        engine.dispose()


INVARIANTS = {
    "units of every instrument all held": """
        SELECT count(*) FROM instruments i
        WHERE i.total_units <> (SELECT coalesce(sum(h.units), 0) FROM holdings h
                                WHERE h.instrument_id = i.id)""",
    "money sums to zero per currency": """
        SELECT count(*) FROM (SELECT currency FROM accounts GROUP BY currency
                              HAVING sum(balance_minor) <> 0) AS t""",
    "no negative balance but clearing": """
        SELECT count(*) FROM accounts WHERE balance_minor < 0 AND purpose <> 'clearing'""",
    "open buy holds = held accounts": """
        SELECT count(*) FROM accounts a
        WHERE a.purpose = 'held' AND a.balance_minor <>
              (SELECT coalesce(sum(o.hold_minor), 0) FROM orders o
               WHERE o.party_id = a.party_id AND o.status_open)""",
    "open sell units = held units": """
        SELECT count(*) FROM holdings h
        WHERE h.held_units <> (SELECT coalesce(sum(o.remaining), 0) FROM orders o
                               WHERE o.party_id = h.party_id AND o.side = 'sell'
                                 AND o.instrument_id = h.instrument_id AND o.status_open)""",
}


def check_invariants(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            bad = {name: c.execute(text(sql)).scalar_one() for name, sql in INVARIANTS.items()}
            return [f"{name}: {n} violations" if n else f"{name}: ok" for name, n in bad.items()]
    finally:
        engine.dispose()


def report(results: list[ClientResult], seconds: float, before: dict[str, int],
           after: dict[str, int], cpu_server: float, cpu_client: float, busy: float,
           cpu_pg: float | None, cpu_other: float) -> float:
    latencies = [x for r in results for x in r.latencies]
    statuses: Counter[int] = sum((r.statuses for r in results), Counter())
    outcomes: Counter[str] = sum((r.outcomes for r in results), Counter())
    done = sum(statuses.values())
    created = statuses.get(201, 0)
    rate = done / seconds
    s = summary_ms(latencies)
    entries = after["entries"] - before["entries"]
    trades = after["trades"] - before["trades"]
    say(f"  orders: {done:,} in {seconds:.1f} s = {rate:.0f} orders/s; latency median "
        f"{s['median']:.1f} ms, p90 {s['p90']:.1f}, p99 {s['p99']:.1f}, max {s['max']:.1f} "
        f"(mean {s['mean']:.1f})")
    say(f"  trades made: {trades:,} ({trades / seconds:.0f}/s; fills reported to the takers "
        f"{sum(r.fills for r in results):,}); journal entries appended: {entries:,} "
        f"({entries / seconds:.0f}/s, {entries / max(1, done):.2f} per order)")
    say("  responses: " + ", ".join(f"{code}: {n:,}" for code, n in sorted(statuses.items()))
        + "; order status on return: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())))
    errors = [e for r in results for e in r.errors]
    if errors or created != done:
        say(f"  first errors: {errors[:5]}")
    pg = "" if cpu_pg is None else (f", PostgreSQL {cpu_pg:.1f} s "
                                    f"({cpu_pg / max(1, done) * 1000:.1f} ms per order)")
    say(f"  CPU during the timed phase: gunicorn workers {cpu_server:.1f} s "
        f"({cpu_server / max(1, done) * 1000:.1f} ms per order){pg}, this client process "
        f"{cpu_client:.1f} s, anything else {max(0.0, cpu_other):.1f} s; of "
        f"{seconds * (os.cpu_count() or 1):.0f} CPU-s on {os.cpu_count()} CPUs the machine was "
        f"{busy:.0%} busy; load average now {os.getloadavg()[0]:.2f}")
    return rate


def profile_in_process(url: str, home: Path, market: Market, orders: int) -> None:
    """The same orders through the Flask app in this process (test client, no gunicorn, one
    at a time) under cProfile, with the SQL statements each order runs: where an order's
    time goes."""
    from sqlalchemy import Engine, event

    from api.app import create_app
    from api.config import Settings

    app = create_app(Settings(database_url=url, home=home, origin="ipx.local/journal",
                              write_rate_limit="1000000 per minute"))
    engine = app.extensions["ipx"].engine
    client = app.test_client()
    rng = random.Random(SEED + 99)
    statements = Counter[str]()

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements[statement.split(None, 1)[0].upper()] += 1

    bodies = []
    for _ in range(orders):
        ticks = MID_TICKS + rng.randint(-SPREAD_TICKS, SPREAD_TICKS)
        bodies.append((rng.choice(market.traders)[1], {
            "instrument_id": rng.choice(market.instruments),
            "side": rng.choice(("buy", "sell")), "type": "limit",
            "price": f"{ticks // 100}.{ticks % 100:02d}", "quantity": rng.randint(1, 20)}))
    before = counts(url)
    # Every engine of the app: on SQLite the API-key lookup has its own (api/auth.py).
    event.listen(Engine, "before_cursor_execute", count)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for key, body in bodies:
        client.post("/v1/orders", json=body, headers={"Authorization": f"Bearer {key}"})
    profiler.disable()
    seconds = time.perf_counter() - t0
    event.remove(Engine, "before_cursor_execute", count)
    after = counts(url)
    engine.dispose()
    say(f"  in-process profile: {orders} orders one at a time through the Flask test client: "
        f"{seconds / orders * 1000:.1f} ms each under cProfile; per order "
        f"{(after['entries'] - before['entries']) / orders:.2f} journal entries, "
        f"{sum(statements.values()) / orders:.1f} SQL statements ("
        + ", ".join(f"{k} {v / orders:.1f}" for k, v in statements.most_common()) + ")")
    for key in ("cumulative", "tottime"):
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats(key).print_stats(30)
        say(buffer.getvalue())


def bench_engine(name: str, url: str, tmp: Path, args: argparse.Namespace
                 ) -> tuple[float, float]:
    home = tmp / "home"
    key = ipx_init(url, home)
    port = free_port()
    log = tmp / "gunicorn.log"
    with serve(url, home, port, args.workers, log) as master:
        t0 = time.perf_counter()
        market = set_up(port, key, args.parties, args.instruments)
        say(f"  set-up over HTTP in {time.perf_counter() - t0:.1f} s: {args.parties} traders, "
            f"{len(market.instruments)} instruments, each trader {market.units_each:,} units "
            f"of each and HKD {market.cash_each}")
        load = Load(port, market, args.clients)
        load.run(args.warmup, args.seconds, phase=0)
        before = counts(url)
        cpu0, client0, pg0 = worker_cpu(master), time.process_time(), postgres_cpu()
        busy0, total0 = machine_cpu()
        results, seconds = load.run(args.orders, args.seconds, phase=1)
        busy1, total1 = machine_cpu()
        cpu_server, cpu_client = worker_cpu(master) - cpu0, time.process_time() - client0
        cpu_pg = postgres_cpu() - pg0
        tick = os.sysconf("SC_CLK_TCK")
        busy = (busy1 - busy0) / max(1.0, total1 - total0)
        cpu_other = (busy1 - busy0) / tick - cpu_server - cpu_client - cpu_pg
        after = counts(url)
        rate = report(results, seconds, before, after, cpu_server, cpu_client, busy,
                      cpu_pg if name == "postgresql" else None, cpu_other)
        if args.floor:
            floor(master, port, market, args)
    say(f"  (after {args.warmup} untimed warm-up orders; book now holds "
        f"{after['orders']:,} orders in all, {after['trades']:,} trades)")
    for line in check_invariants(url):
        say(f"  invariant {line}")
    for command in (("ledger", "verify"), ("ledger", "replay", "--check")):
        code, last, took = ipx_check(url, home, *command)
        say(f"  ipx {' '.join(command)}: exit {code} ({took:.1f} s): {last}")
    if args.profile:
        profile_in_process(url, home, market, args.profile)
    return rate, after["entries"]


# What the same clients and server reach without trading: a database round trip with no key
# (`/healthz`), and a key's lookup with one read (`/v1/me`).
FLOOR_PROBES = ("/healthz", "/v1/me")


def floor(master: int, port: int, market: Market, args: argparse.Namespace) -> None:
    """The HTTP stack's own rate on this machine: `args.orders` GETs of each probe."""
    for path in FLOOR_PROBES:
        load = Load(port, market, args.clients, probe=path)
        load.run(args.warmup, args.seconds, phase=0)
        cpu0, client0 = worker_cpu(master), time.process_time()
        results, seconds = load.run(args.orders, args.seconds, phase=1)
        cpu_server, cpu_client = worker_cpu(master) - cpu0, time.process_time() - client0
        done = sum(sum(r.statuses.values()) for r in results)
        s = summary_ms([x for r in results for x in r.latencies])
        errors = [e for r in results for e in r.errors]
        say(f"  floor, GET {path}: {done:,} in {seconds:.1f} s = {done / seconds:.0f} "
            f"requests/s; latency median {s['median']:.1f} ms, p99 {s['p99']:.1f}; CPU "
            f"gunicorn workers {cpu_server / max(1, done) * 1000:.2f} ms, this client "
            f"{cpu_client / max(1, done) * 1000:.2f} ms per request"
            + (f"; first errors: {errors[:3]}" if errors else ""))


def ceiling(name: str, args: argparse.Namespace) -> float:
    """bench/journal_append.py's loops on a fresh database of the same engine."""
    say(f"  journal-append ceiling (bench/journal_append.py run_engine, {args.ceiling_count} "
        "appends per loop, fresh database):")
    if name == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ipx-bench-ceiling-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'ipx.sqlite3'}"
            migrations.upgrade(url)
            return run_engine(name, url, args.ceiling_count, args.ceiling_count // 10,
                              False)["journal"]
    db, url = create_pg_database(f"ipx_bench_ceiling_{secrets.token_hex(2)}")
    try:
        migrations.upgrade(url)
        return run_engine(name, url, args.ceiling_count, args.ceiling_count // 10,
                          False)["journal"]
    finally:
        drop_pg_database(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma list of sqlite, postgresql (default both)")
    parser.add_argument("--clients", type=int, default=8,
                        help="concurrent client threads (default 8)")
    parser.add_argument("--orders", type=int, default=3000,
                        help="timed orders in all (default 3000)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="untimed orders first (default 200)")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="stop the timed phase after this long (default 120)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn workers, `ipx serve --workers` (default 2)")
    parser.add_argument("--parties", type=int, default=8, help="trading parties (default 8)")
    parser.add_argument("--instruments", type=int, default=3,
                        help="instruments traded (default 3)")
    parser.add_argument("--ceiling-count", type=int, default=1000,
                        help="appends per loop of the journal-append ceiling (default 1000)")
    parser.add_argument("--floor", action="store_true",
                        help="afterwards, as many GETs of /healthz and of /v1/me from the same "
                             "clients: what the HTTP stack reaches without trading")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="afterwards, cProfile N more orders in-process (default 0: no)")
    args = parser.parse_args(argv)
    engines = parse_engines(args.engines)
    if args.clients < 1 or args.orders < 1 or args.parties < 1 or args.instruments < 1:
        raise SystemExit("--clients, --orders, --parties and --instruments must be positive")

    problem = pg_problem() if "postgresql" in engines else None
    for line in machine_lines(with_pg="postgresql" in engines and problem is None):
        say(line)
    say(f"orders over HTTP: gunicorn `ipx serve --workers {args.workers}`, {args.clients} "
        f"client threads (keep-alive http.client), {args.orders:,} timed limit orders on "
        f"{args.instruments} instruments; goal: orders/s >= {GOAL} x journal appends/s; "
        f"load average {os.getloadavg()[0]:.2f}")
    for name in engines:
        if name == "postgresql" and problem is not None:
            say(f"\npostgresql: SKIPPED, no server at the admin URL: {problem}")
            continue
        with tempfile.TemporaryDirectory(prefix="ipx-bench-orders-") as folder:
            tmp = Path(folder)
            if name == "sqlite":
                url = f"sqlite:///{tmp / 'ipx.sqlite3'}"
                say(f"\nsqlite ({url})")
                rate, _ = bench_engine(name, url, tmp, args)
            else:
                db, url = create_pg_database(f"ipx_bench_orders_{secrets.token_hex(2)}")
                try:
                    settings = pg_settings(url, ["synchronous_commit", "shared_buffers",
                                                 "max_connections"])
                    say(f"\npostgresql (fresh database {db}; "
                        + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")")
                    rate, _ = bench_engine(name, url, tmp, args)
                finally:
                    drop_pg_database(db)
        journal = ceiling(name, args)
        ratio = rate / journal
        say(f"  => {name}: {rate:.0f} orders/s over HTTP vs {journal:.0f} journal appends/s "
            f"in-process: ratio {ratio:.2f} (goal >= {GOAL}: "
            f"{'met' if ratio >= GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
