"""Benchmark: revenue distributions to many holders, and statements with proofs over a big journal.

(a) distribute: one receipt of an asset's revenue split to `--holders` (default 100,000)
    holders of its inventor class, per engine. Setup through the services where it is small
    (operator, university, inventor, the asset listed with the `hku-2023` policy, which opens
    IPX's HKD clearing account and the operator's), then in bulk
    with SQLAlchemy Core for the holders: their `parties` and `holdings` rows *and* the journal
    entries the services would have written for them (`party.created`, `units.transferred` from
    the inventor; bench/bulkjournal.py), so the journal stays consistent, and the HKD account
    that a transfer opens for each new holder (`ledger.holdings.create_holdings`; with
    `--holders-without-accounts`, none, as for holdings from before migration 0016). The timed
    call is the service itself, `ledger.services.revenue.record_revenue`, `--receipts` times
    (default 5) one after another (without the accounts, the first creates them). Prints each
    time (goal < 2 s), their median and slowest, and the journal entry's size; then one more
    receipt through the API (Flask test client); then checks `ipx ledger verify` and
    `ipx ledger replay --check` (both must exit 0) and verifies one holder's statement offline.

(b) statement: a party with `--lines` (default 10,000) money lines spread over a
    `--entries` (default 1,000,000) entry journal. The journal is built with bench/proofs.py's
    `JournalGenerator` (same shapes, seed and batching), except that its money entries are
    written as `money.deposit` entries exactly as `ledger.services.money.deposit` writes them,
    with their `money_transactions`, `postings` and `accounts` rows, and every
    (entries / lines)-th entry is a deposit to the one party. The SQLite file is cached under
    bench/results/ (`--rebuild` to redo); PostgreSQL is built fresh (binary COPY) and dropped.
    Times `ledger.services.statements.build_statement` over the whole period (goal < 2 s) and
    the offline verification (goal < 2 s): `verify_statement` on its JSON in this process,
    then `ipx verify-statement` and the standalone `python ledger/statement_verifier.py` as
    new processes, reading the file included; the statement must verify.

A benchmark, not a test: it prints figures and asserts nothing about time.

    python bench/revenue.py [--parts distribute,statement] [--engines sqlite,postgresql]
                            [--holders 100000] [--entries 1000000] [--lines 10000]
                            [--receipts 5] [--rebuild] [--check-journal] [--profile]
                            [--breakdown] [--holders-without-accounts]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from alembic.script import ScriptDirectory
from benchlib import (
    RESULTS,
    ROOT,
    create_pg_database,
    drop_pg_database,
    machine_lines,
    parse_engines,
    pg_problem,
    pg_settings,
    say,
)
from bulkjournal import BulkJournal, insert_chunked
from proofs import START, JournalGenerator
from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

import migrations
from ledger.account_codes import AVAILABLE, CLEARING, party_account, system_account
from ledger.accounts import request_hash
from ledger.actor import Actor
from ledger.clock import utcnow
from ledger.currency import format_minor
from ledger.db import make_engine, make_session_factory
from ledger.journal import SYSTEM_OWNER, posting_json
from ledger.models import (
    Account,
    Holding,
    JournalEntry,
    JournalEntryParty,
    JournalHead,
    MerkleNode,
    MoneyTransaction,
    Party,
)
from ledger.models import Posting as PostingRow
from ledger.policy import policy_hash, resolve_policy
from ledger.postings import Posting, UnitMove
from ledger.services import parties
from ledger.services.assets import list_asset
from ledger.services.revenue import record_revenue
from ledger.services.statements import build_statement
from ledger.services.transparency import LogIdentity
from ledger.signing_key import load_or_create_signing_key
from ledger.statement_verifier import verify_statement
from ledger.unit_of_work import UnitOfWork
from ledger.waterfall import Holder, WaterfallInput, run_waterfall

ORIGIN = "bench.ipx.local/journal"
SEED = 20260104
GOAL_S = 2.0
T = TypeVar("T")


def _rid(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(80):020x}"


def timed(fn: Callable[[], T], profile: bool) -> tuple[T, float, str]:
    """Run fn once; its result, wall seconds and (with profile) the cProfile top functions."""
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    text = ""
    if profiler is not None:
        profiler.disable()
        buffer = io.StringIO()
        # PROFILE_SORT=tottime PROFILE_N=60 for another view of the same profile.
        pstats.Stats(profiler, stream=buffer).sort_stats(
            os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            int(os.environ.get("PROFILE_N", "45")))
        text = buffer.getvalue()
    return result, seconds, text


class Breakdown:
    """Wall and CPU time spent in a few named functions of the revenue path while active
    (calls nest: `post_transaction` includes `_post_to_accounts`, the encoding and the writes
    inside it). Wraps module attributes of this process only."""

    def __init__(self) -> None:
        import ledger.accounts
        import ledger.journal
        import ledger.services.revenue

        self.targets: list[tuple[Any, str, str]] = [
            (ledger.services.revenue, "_holders", "holders query (_holders)"),
            (ledger.services.revenue, "run_waterfall", "waterfall (run_waterfall, pure)"),
            (ledger.services.revenue, "post_transaction", "post_transaction, all of it"),
            # Encoded in a thread on PostgreSQL, while the server locks the accounts.
            (ledger.services.revenue, "lines_canonical", "  encode lines (a thread on PG)"),
            (ledger.accounts, "canonical_bytes", "  encode the rest of data (lines spliced)"),
            (ledger.accounts, "postings_canonical", "  encode postings (a thread on PG)"),
            (ledger.accounts, "_post_to_accounts", "  lock, update and create accounts"),
            # A big batch whose accounts exist is moved by id; the general path (reading
            # states, then `_write_balances`) when one is missing or overdrawn.
            (ledger.accounts, "_move_by_id", "    move them by id"),
            (ledger.accounts, "_ids_of", "      their ids (known, or read by code)"),
            (ledger.accounts, "_write_balances", "    update balances (general path)"),
            (ledger.accounts, "_create", "    create accounts"),
            # The money transaction and its postings ride in the append's statement.
            (ledger.journal.JournalWriter, "append", "  JournalWriter.append, with postings"),
            (ledger.journal, "canonical_bytes", "    encode the entry (members spliced)"),
            (Session, "commit", "Session.commit (COMMIT)"),
        ]
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                self.seconds[label] += time.perf_counter() - t0
                self.cpu[label] += time.process_time() - c0
        return wrapper

    def __enter__(self) -> Breakdown:
        for owner, name, label in self.targets:
            self.saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, self._wrap(getattr(owner, name), label))
        return self

    def __exit__(self, *_: Any) -> None:
        for owner, name, fn in reversed(self.saved):
            setattr(owner, name, fn)

    def lines(self) -> list[str]:
        return [f"{label:<42} {self.seconds[label]:6.2f} s wall {self.cpu[label]:6.2f} s CPU"
                for _, _, label in self.targets]


def ipx_command(url: str, home: Path, *args: str) -> tuple[int, str, float]:
    """Run `ipx ARGS` against the database; (exit code, last output line, seconds)."""
    env = {**os.environ, "IPX_DATABASE_URL": url, "IPX_HOME": str(home),
           "IPX_LOG_ORIGIN": ORIGIN}
    ipx = Path(sys.executable).with_name("ipx")
    command = [str(ipx)] if ipx.exists() else [sys.executable, "-m", "api.cli"]
    t0 = time.perf_counter()
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True,
                          timeout=3600, check=False)
    out = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return done.returncode, (out[-1] if out else "(no output)"), time.perf_counter() - t0


def goal(seconds: float) -> str:
    return f"goal < {GOAL_S:.0f} s: {'met' if seconds < GOAL_S else 'NOT met'}"


# --- (a) one receipt to many holders ----------------------------------------------------------

def setup_holders(sessions: sessionmaker[Session], holders: int, accounts: bool
                  ) -> tuple[Actor, str, str, int]:
    """Operator, university, inventor and asset through the services; `holders` holders of
    the inventor class in bulk, with (if `accounts`) the HKD accounts their transfers open.
    Returns (operator, asset id, inventor class instrument, units)."""
    party, _ = parties.bootstrap_operator(UnitOfWork(sessions))
    operator = Actor(party.id, "operator")
    university = parties.register_party(UnitOfWork(sessions), operator, "University of Leiden",
                                        "university")
    inventor = parties.register_party(UnitOfWork(sessions), operator, "Alice Martin",
                                      "inventor")
    listing = list_asset(UnitOfWork(sessions), Actor(university.id, "university"),
                         title="Bench asset", kind="patent", jurisdiction="EP",
                         inventors=[{"party_id": inventor.id, "share": "1"}],
                         policy="hku-2023", currency="HKD")
    instrument = next(i for i in listing.instruments if i.unit_class == "inventor")
    rng = random.Random(SEED)
    ids = [_rid(rng, "pty") for _ in range(holders)]
    units = [rng.randint(1, 9) for _ in range(holders)]
    if sum(units) >= instrument.total_units:
        raise SystemExit(f"--holders {holders}: more units than the class has")
    now = utcnow()
    with sessions() as session, session.begin():
        connection = session.connection()
        journal = BulkJournal(connection)
        party_rows, holding_rows = [], []
        for i, pid in enumerate(ids):
            name = f"Holder {i:06d}"
            party_rows.append({"id": pid, "name": name, "kind": "investor", "created_at": now})
            journal.append("party.created", {"party_id": pid, "name": name, "kind": "investor"},
                           at=now, actor=operator.party_id, parties=[pid])
        for pid, n in zip(ids, units, strict=True):
            holding_rows.append({"party_id": pid, "instrument_id": instrument.id, "units": n,
                                 "held_units": 0})
            journal.append("units.transferred",
                           {"instrument_id": instrument.id, "from": inventor.id, "to": pid,
                            "units": n, "reference": "bench"},
                           at=now, actor=inventor.id,
                           unit_moves=[UnitMove(inventor.id, instrument.id, -n),
                                       UnitMove(pid, instrument.id, n)])
        insert_chunked(connection, Party.__table__, party_rows)
        journal.flush(connection)
        if accounts:  # opened with the holdings, which name them (`create_holdings`)
            insert_chunked(connection, Account.__table__, [
                {"code": party_account(pid, "HKD", AVAILABLE), "party_id": pid, "currency": "HKD",
                 "purpose": AVAILABLE, "balance_minor": 0, "allow_negative": False}
                for pid in ids])
            opened = dict(connection.execute(select(Account.party_id, Account.id).where(
                Account.currency == "HKD", Account.purpose == AVAILABLE)).all())
            for row in holding_rows:
                row["account_id"] = opened[row["party_id"]]
        insert_chunked(connection, Holding.__table__, holding_rows)
        connection.execute(update(Holding).where(
            Holding.party_id == inventor.id, Holding.instrument_id == instrument.id)
            .values(units=Holding.units - sum(units)))
    return operator, listing.asset.id, instrument.id, sum(units)


def bench_distribute(name: str, url: str, home: Path, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        t0 = time.perf_counter()
        accounts = not args.holders_without_accounts
        operator, asset_id, instrument_id, units = setup_holders(sessions, args.holders,
                                                                 accounts)
        say(f"  setup: {args.holders:,} holders ({units:,} of 1,000,000 inventor units, the "
            f"inventor keeps the rest) with their journal entries"
            f"{' and accounts' if accounts else ', without accounts'}, in "
            f"{time.perf_counter() - t0:.1f} s")
        first = ("first receipt (the holders' accounts exist)" if accounts
                 else "first receipt (creates every holder's account)")
        times: list[float] = []
        for n in range(1, args.receipts + 1):
            label = first if n == 1 else f"receipt {n}"
            cpu = time.process_time()
            view, seconds, profile = timed(lambda n=n: record_revenue(  # type: ignore[misc]
                UnitOfWork(sessions), operator, asset_id, Decimal("1000000.00"), "HKD",
                "royalty", f"bench-{n}"), args.profile)
            cpu = time.process_time() - cpu
            times.append(seconds)
            with sessions() as session:
                size = len(session.execute(select(JournalEntry.body).where(
                    JournalEntry.seq == view.distribution.journal_seq)).scalar_one()
                           .encode())
            say(f"  record_revenue, {label}: {seconds:.2f} s ({goal(seconds)}; CPU of this "
                f"process {cpu:.2f} s); {len(view.lines):,} lines; journal entry "
                f"{view.distribution.journal_seq}: {size:,} bytes ({size / 2**20:.1f} MiB)")
            if profile:
                say(profile)
        if len(times) > 1:
            say(f"  {len(times)} receipts: median {statistics.median(times):.2f} s, slowest "
                f"{max(times):.2f} s ({goal(max(times))})")
        if args.breakdown:
            with Breakdown() as breakdown:
                t0 = time.perf_counter()
                record_revenue(UnitOfWork(sessions), operator, asset_id, Decimal("1000000.00"),
                               "HKD", "royalty", "bench-breakdown")
                seconds = time.perf_counter() - t0
            say(f"  where one more receipt's {seconds:.2f} s go (wall, nested):")
            for line in breakdown.lines():
                say(f"    {line}")
        identity = LogIdentity(ORIGIN, load_or_create_signing_key(home))
        through_api(url, home, sessions, operator, asset_id, args.profile)
        # Correctness: the journal, the replay, and one holder's statement offline.
        with sessions() as session:
            holder = session.execute(
                select(Holding.party_id).where(Holding.instrument_id == instrument_id)
                .order_by(Holding.party_id).limit(1)).scalar_one()
        now = utcnow()
        statement = build_statement(UnitOfWork(sessions), identity, Actor(holder, "investor"),
                                    now - timedelta(days=1), now + timedelta(minutes=1), "HKD")
        report = verify_statement(json.loads(json.dumps(statement)), identity.public_key_pem)
        say(f"  one holder's statement: {len(statement['lines'])} lines, offline verification "
            f"{'VERIFIED' if report.ok else 'FAILED: ' + str(report.failures)[:300]}")
    finally:
        engine.dispose()
    for command in (("ledger", "verify"), ("ledger", "replay", "--check")):
        code, last, seconds = ipx_command(url, home, *command)
        say(f"  ipx {' '.join(command)}: exit {code} ({seconds:.1f} s): {last}")


def through_api(url: str, home: Path, sessions: sessionmaker[Session], operator: Actor,
                asset_id: str, profile: bool) -> None:
    """One more receipt as a client sends it: POST /v1/assets/{id}/revenue through the Flask
    test client (no network), with an Idempotency-Key, so the 201 response with every line is
    also stored for retries."""
    from api.app import create_app
    from api.config import Settings

    app = create_app(Settings(database_url=url, home=home, origin=ORIGIN))
    key = parties.issue_api_key(UnitOfWork(sessions), operator, operator.party_id).key
    client = app.test_client()
    cpu = time.process_time()
    got, seconds, profiled = timed(lambda: client.post(f"/v1/assets/{asset_id}/revenue", json={
        "amount": {"amount": "1000000.00", "currency": "HKD"}, "source": "royalty",
        "reference": "bench-api"}, headers={"Authorization": f"Bearer {key}",
                                            "Idempotency-Key": "bench-api"}), profile)
    cpu = time.process_time() - cpu
    if got.status_code != 201:
        raise SystemExit(f"POST revenue -> {got.status_code}: {got.get_data(as_text=True)}")
    say(f"  through the API (POST /v1/assets/{{id}}/revenue, Flask test client): "
        f"{seconds:.2f} s (CPU {cpu:.2f} s); response {len(got.data) / 2**20:.1f} MiB with "
        f"{len(got.json['lines']):,} lines")
    if profiled:
        say(profiled)


def run_distribute(engines: list[str], args: argparse.Namespace, problem: str | None) -> None:
    say(f"\n(a) one receipt (HKD 1,000,000.00, hku-2023) to {args.holders:,} holders; "
        f"load average {os.getloadavg()[0]:.2f}")
    for name in engines:
        with tempfile.TemporaryDirectory(prefix="ipx-bench-revenue-") as tmp:
            home = Path(tmp) / "home"
            if name == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'ipx.sqlite3'}"
                migrations.upgrade(url)
                say(f"\n sqlite ({url})")
                bench_distribute(name, url, home, args)
                continue
            if problem is not None:
                say(f"\n postgresql: SKIPPED, no server at the admin URL: {problem}")
                continue
            db, url = create_pg_database(f"ipx_bench_revenue_{secrets.token_hex(2)}")
            try:
                migrations.upgrade(url)
                say(f"\n postgresql (fresh database {db})")
                bench_distribute(name, url, home, args)
            finally:
                drop_pg_database(db)


# --- (b) a statement of many lines over a big journal ----------------------------------------

CURRENCY = "EUR"
STATEMENT_SEED = 20260105
Txn = tuple[str, str | None, str, str, int, datetime]  # id, client_id, hash, kind, seq, at
PostingTuple = tuple[int, int, int, int]  # account id, journal seq, line, amount


class StatementJournal(JournalGenerator):
    """bench/proofs.py's generator (same mix, seed handling and batches), with its money
    entries written as the services write them (`money.deposit`) and their money rows kept,
    and every `every`-th entry a line of the statement's party: a deposit, or every second
    one a `revenue.distributed` entry of one of the party's assets, split by `hku-2023` with
    the real waterfall."""

    def __init__(self, entries: int, lines: int, seed: int = STATEMENT_SEED) -> None:
        super().__init__(entries, seed)
        self.party = self._id("pty")
        self.owner = self._id("pty")
        self.lines, self.made, self.seq = lines, 0, 0
        self.every = max(1, entries // lines)
        self.policy_body = resolve_policy("hku-2023")
        self.policy = {"id": self._id("pol"), "hash": policy_hash(self.policy_body),
                       "body": self.policy_body}
        # The party's assets: the party and one or two co-inventors share the inventor class.
        self.party_assets: list[tuple[str, list[Holder]]] = []
        for _ in range(20):
            others = self.rng.sample(self.parties, self.rng.randint(1, 2))
            holders = [Holder(p, self.rng.randint(1, 9) * 50_000) for p in [self.party, *others]]
            self.party_assets.append((self._id("ast"), holders))
        self.cumulative: dict[str, int] = defaultdict(int)
        codes = [system_account(CURRENCY, CLEARING)] + [
            party_account(p, CURRENCY, AVAILABLE)
            for p in [*self.parties, self.party, self.owner]]
        self.account_ids = {code: i for i, code in enumerate(sorted(set(codes)), start=1)}
        self.balances: dict[str, int] = defaultdict(int)
        self.txns: list[Txn] = []
        self.postings: list[PostingTuple] = []

    def _money(self, kind: str, data: dict[str, Any], parties: list[str],
               postings: list[Posting], client_id: str | None
               ) -> tuple[str, dict[str, Any], str, set[str], list[dict[str, str]]]:
        """What `post_transaction` writes: the entry's content, a money transaction, postings."""
        txn = self._id("txn")
        fingerprint = request_hash({"kind": kind, "data": data, "postings": [
            [p.account, p.currency, p.amount] for p in postings]})
        self.txns.append((txn, client_id, fingerprint, kind, self.seq,
                          START + timedelta(milliseconds=37 * self.seq)))
        for line, p in enumerate(postings):
            self.postings.append((self.account_ids[p.account], self.seq, line, p.amount))
            self.balances[p.account] += p.amount
        named = set(parties)  # the account owners read it through its postings
        return kind, data, self.operator, named, [posting_json(p) for p in postings]

    def _deposit(self, party: str, minor: int
                 ) -> tuple[str, dict[str, Any], str, set[str], list[dict[str, str]]]:
        reference = self._id("dep")
        data = {"party_id": party, "provider": "manual", "reference": reference,
                "amount": format_minor(minor, CURRENCY), "currency": CURRENCY}
        postings = [Posting(system_account(CURRENCY, CLEARING), CURRENCY, -minor),
                    Posting(party_account(party, CURRENCY, AVAILABLE), CURRENCY, minor)]
        return self._money("money.deposit", data, [party], postings, f"deposit:{reference}")

    def _distribution(self) -> tuple[str, dict[str, Any], str, set[str], list[dict[str, str]]]:
        """A receipt split as `ledger.services.revenue.distribute` splits and journals it."""
        asset_id, inventors = self.rng.choice(self.party_assets)
        gross = self.rng.randrange(10_000, 10_000_000)
        result = run_waterfall(WaterfallInput(
            gross=gross, currency_exponent=2, policy=self.policy_body, platform_fee_bps=0,
            unrecovered_costs=0, cumulative_net_before=self.cumulative[asset_id],
            holdings={"inventor": inventors, "university": [Holder(self.owner, 1_000_000)]},
            owner_id=self.owner, operator_id=self.operator))
        credits: dict[str, int] = defaultdict(int)
        for step in result.steps:
            credits[step.party_id] += step.amount
        for line in result.lines:
            credits[line.party_id] += line.amount
        postings = [Posting(system_account(CURRENCY, CLEARING), CURRENCY, -gross)] + [
            Posting(party_account(p, CURRENCY, AVAILABLE), CURRENCY, a)
            for p, a in sorted(credits.items()) if a]

        def fmt(minor: int) -> str:
            return format_minor(minor, CURRENCY)

        data = {
            "distribution_id": self._id("dst"), "asset_id": asset_id,
            "owner_id": self.owner, "operator_id": self.operator,
            "gross": fmt(gross), "currency": CURRENCY, "currency_exponent": 2,
            "source": "royalty", "reference": f"R-{self.seq}", "policy": self.policy,
            "platform_fee_bps": 0, "unrecovered_costs_before": fmt(0),
            "cumulative_net_before": fmt(self.cumulative[asset_id]),
            "steps": [{"kind": s.kind, "amount": fmt(s.amount), "party_id": s.party_id}
                      for s in result.steps],
            "net": fmt(result.net),
            "class_totals": {c: fmt(a) for c, a in result.class_totals.items()},
            "class_units": dict(result.class_units),
            "lines": [{"party_id": ln.party_id, "class": ln.unit_class, "units": ln.units,
                       "amount": fmt(ln.amount)} for ln in result.lines],
        }
        self.cumulative[asset_id] += result.net
        return self._money("revenue.distributed", data, [self.owner], postings, None)

    def _content(self) -> tuple[str, dict[str, Any], str, set[str], list[dict[str, str]]]:
        self.seq += 1  # the base class asks for exactly one content per seq, in order
        if self.made < self.lines and self.seq % self.every == 0:
            self.made += 1
            if self.made % 2 == 0:
                return self._distribution()
            return self._deposit(self.party, self.rng.randrange(100, 10_000_000))
        kind, data, actor, parties, postings = super()._content()
        if kind != "money.deposited":
            return kind, data, actor, parties, postings
        minor = int(postings[0]["amount"].replace(".", ""))
        return self._deposit(next(iter(parties)), minor)

    def take_money(self) -> tuple[list[Txn], list[PostingTuple]]:
        txns, postings = self.txns, self.postings
        self.txns, self.postings = [], []
        return txns, postings

    def fixed_rows(self) -> tuple[list[tuple[str, str, str, datetime]], list[tuple[Any, ...]]]:
        """Parties and accounts (balances 0), written before any entry."""
        kinds = {self.operator: "operator", self.owner: "university", self.party: "inventor"}
        parties = [(p, f"Party {i}", kinds.get(p, "investor"), START)
                   for i, p in enumerate(sorted({*self.parties, *kinds}))]
        accounts = []
        for code, i in self.account_ids.items():
            owner, currency, purpose = code.split(":")
            system = owner == SYSTEM_OWNER
            accounts.append((i, code, None if system else owner, currency, purpose, 0, system))
        return parties, accounts


def _rows(columns: list[str], tuples: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, t, strict=True)) for t in tuples]


def build_statement_sqlite(path: Path, gen: StatementJournal) -> float:
    """Through SQLAlchemy Core on the app's engine (so dates are stored as the app stores
    them), one transaction per batch of 50,000 entries."""
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    parties, accounts = gen.fixed_rows()
    with engine.begin() as c:
        insert_chunked(c, Party.__table__, _rows(["id", "name", "kind", "created_at"], parties))
        insert_chunked(c, Account.__table__, _rows(
            ["id", "code", "party_id", "currency", "purpose", "balance_minor",
             "allow_negative"], accounts))
    for entries, nodes, named in gen.batches():
        txns, postings = gen.take_money()
        with engine.begin() as c:
            insert_chunked(c, JournalEntry.__table__, _rows(
                ["seq", "kind", "body", "leaf_hash", "chain_hash"], entries))
            insert_chunked(c, MerkleNode.__table__, _rows(["level", "idx", "hash"], nodes))
            insert_chunked(c, JournalEntryParty.__table__, _rows(["party_id", "seq"], named))
            insert_chunked(c, MoneyTransaction.__table__, _rows(
                ["id", "client_id", "request_hash", "kind", "journal_seq", "created_at"], txns))
            insert_chunked(c, PostingRow.__table__, _rows(
                ["account_id", "journal_seq", "line", "amount_minor"], postings))
        _built(entries[-1][0], gen.entries, t0)
    with engine.begin() as c:
        _finish(c, gen)
    engine.dispose()
    return time.perf_counter() - t0


def _finish(c: Any, gen: StatementJournal) -> None:
    """Final balances and the journal head (SQLAlchemy connection)."""
    c.execute(update(Account).where(Account.id == bindparam("aid"))
              .values(balance_minor=bindparam("bal")),
              [{"aid": gen.account_ids[code], "bal": b} for code, b in gen.balances.items()])
    c.execute(update(JournalHead).where(JournalHead.id == 1).values(
        size=gen.entries, chain_hash=gen.chain, frontier=gen.frontier.to_bytes()))


def build_statement_postgresql(url: str, gen: StatementJournal) -> float:
    """Binary COPY, one transaction per batch, then VACUUM ANALYZE (as bench/proofs.py)."""
    migrations.upgrade(url)
    t0 = time.perf_counter()
    parties, accounts = gen.fixed_rows()
    fixed = [
        ("COPY parties (id, name, kind, created_at) FROM STDIN (FORMAT BINARY)",
         ["varchar", "varchar", "varchar", "timestamptz"], parties),
        ("COPY accounts (id, code, party_id, currency, purpose, balance_minor, allow_negative) "
         "FROM STDIN (FORMAT BINARY)",
         ["int4", "varchar", "varchar", "varchar", "varchar", "int8", "bool"], accounts),
    ]
    per_batch = [
        ("COPY journal_entries (seq, kind, body, leaf_hash, chain_hash) FROM STDIN (FORMAT BINARY)",
         ["int8", "varchar", "text", "bytea", "bytea"]),
        ("COPY merkle_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)",
         ["int4", "int8", "bytea"]),
        ("COPY journal_entry_parties (party_id, seq) FROM STDIN (FORMAT BINARY)",
         ["varchar", "int8"]),
        ("COPY money_transactions (id, client_id, request_hash, kind, journal_seq, created_at) "
         "FROM STDIN (FORMAT BINARY)",
         ["varchar", "varchar", "varchar", "varchar", "int8", "timestamptz"]),
        ("COPY postings (account_id, journal_seq, line, amount_minor) FROM STDIN "
         "(FORMAT BINARY)", ["int4", "int8", "int4", "int8"]),
    ]

    def copy(db: psycopg.Connection[Any], sql: str, types: list[str],
             rows: list[tuple[Any, ...]]) -> None:
        with db.cursor() as cursor, cursor.copy(sql) as out:  # type: ignore[arg-type]
            out.set_types(types)
            for row in rows:
                out.write_row(row)

    with psycopg.connect(url) as db:
        for sql, types, rows in fixed:
            copy(db, sql, types, rows)
        db.commit()
        for entries, nodes, named in gen.batches():
            txns, postings = gen.take_money()
            for (sql, types), rows in zip(per_batch, [entries, nodes, named, txns, postings],
                                          strict=True):
                copy(db, sql, types, rows)  # type: ignore[arg-type]
            db.commit()
            _built(entries[-1][0], gen.entries, t0)
        with db.cursor() as cursor:
            cursor.executemany("UPDATE accounts SET balance_minor = %s WHERE id = %s",
                               [(b, gen.account_ids[code]) for code, b in gen.balances.items()])
            cursor.execute("UPDATE journal_head SET size = %s, chain_hash = %s, frontier = %s "
                           "WHERE id = 1", (gen.entries, gen.chain, gen.frontier.to_bytes()))
            cursor.execute("SELECT setval(pg_get_serial_sequence('accounts', 'id'), "
                           "(SELECT max(id) FROM accounts))")
        db.commit()
    load = time.perf_counter() - t0
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("VACUUM ANALYZE")
    say(f"  (load {load:.1f} s, then VACUUM ANALYZE {time.perf_counter() - t0 - load:.1f} s)")
    return time.perf_counter() - t0


def _built(done: int, total: int, t0: float) -> None:
    if done % (total // 5 or 1) < 50_000 or done == total:
        say(f"  built {done:>9,} / {total:,} entries  {time.perf_counter() - t0:6.1f} s")


def statement_cache(args: argparse.Namespace) -> tuple[str, Path, dict[str, Any]]:
    # Rebuilt for each schema: a cache from an older one would not load into this one's code.
    head = ScriptDirectory.from_config(migrations.alembic_config("sqlite://")).get_current_head()
    folder = RESULTS / f"statement-sqlite-{args.entries}-{args.lines}-schema{head}"
    path, home, meta = folder / "ipx.sqlite3", folder / "home", folder / "meta.json"
    if args.rebuild or not meta.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        say(f"  building {args.entries:,} entries with {args.lines:,} lines of one party "
            f"into {path}")
        gen = StatementJournal(args.entries, args.lines)
        seconds = build_statement_sqlite(path, gen)
        load_or_create_signing_key(home)
        info = {"entries": args.entries, "lines": args.lines, "party": gen.party,
                "build_seconds": round(seconds, 1), "root": gen.frontier.root().hex(),
                "built": datetime.now(UTC).isoformat()}
        meta.write_text(json.dumps(info, indent=1))
        say(f"  build: {seconds:.1f} s, file {path.stat().st_size / 2**20:.0f} MiB")
    else:
        info = json.loads(meta.read_text())
        say(f"  reusing {path} (built {info['built']} in {info['build_seconds']} s, "
            f"{path.stat().st_size / 2**20:.0f} MiB; --rebuild to redo)")
    return f"sqlite:///{path}", home, info


def bench_statement(url: str, home: Path, party: str, args: argparse.Namespace) -> None:
    engine: Engine = make_engine(url)
    sessions = make_session_factory(engine)
    identity = LogIdentity(ORIGIN, load_or_create_signing_key(home))
    actor = Actor(party, "inventor")
    start, end = START, START + timedelta(days=1)

    cpu: list[float] = []  # CPU seconds of this process per call: the machine is shared

    def build() -> dict[str, Any]:
        t0 = time.process_time()
        built = build_statement(UnitOfWork(sessions), identity, actor, start, end, CURRENCY)
        cpu.append(time.process_time() - t0)
        return built

    try:
        statement, first, profile = timed(build, args.profile)
        again = [timed(build, False)[1] for _ in range(3)]
    finally:
        engine.dispose()
    kinds: dict[str, int] = defaultdict(int)
    for line in statement["lines"]:
        kinds[line["kind"]] += 1
    paths = sum(len(ln["inclusion_proof"]["path"]) for ln in statement["lines"])
    say(f"  build_statement: first call {first:.2f} s ({goal(first)}), then "
        f"{', '.join(f'{s:.2f}' for s in again)} s (median {statistics.median(again):.2f}; "
        f"CPU {', '.join(f'{s:.2f}' for s in cpu)} s); {len(statement['lines']):,} lines ("
        + ", ".join(f"{n:,} {k}" for k, n in sorted(kinds.items()))
        + f"), {paths / max(1, len(statement['lines'])):.1f} hashes per proof, tree size "
        f"{statement['checkpoint']['tree_size']:,}; lines digest "
        # The same seeded journal on both engines: the lines (entries, amounts, proofs) must
        # be byte-identical, whatever queries fetched them.
        f"{hashlib.sha256(json.dumps(statement['lines']).encode()).hexdigest()[:16]}")
    if profile:
        say(profile)
    with tempfile.TemporaryDirectory(prefix="ipx-bench-statement-") as tmp:
        file, pem = Path(tmp) / "statement.json", Path(tmp) / "public-key.pem"
        file.write_text(json.dumps(statement))
        pem.write_text(identity.public_key_pem)
        size = file.stat().st_size
        t0 = time.perf_counter()
        parsed = json.loads(file.read_text())
        parse = time.perf_counter() - t0
        t0 = time.process_time()
        report, verify, profile = timed(
            lambda: verify_statement(parsed, identity.public_key_pem), args.profile)
        verify_cpu = time.process_time() - t0
        verdict = ("VERIFIED" if report.ok
                   else f"FAILED ({len(report.failures)} problems: {report.failures[:3]})")
        say(f"  verify_statement offline on its JSON ({size / 2**20:.1f} MiB): {verify:.2f} s "
            f"(CPU {verify_cpu:.2f} s; reading the JSON {parse:.2f} s more): {verdict}")
        if profile:
            say(profile)
        code, last, seconds = ipx_command(url, home, "verify-statement", str(file),
                                          "--public-key", str(pem))
        say(f"  ipx verify-statement FILE --public-key PEM (a new process, imports included): "
            f"exit {code}, {seconds:.2f} s: {last}")
        # The goal's measure: the standalone verifier an inventor runs from a copy, reading
        # the file included.
        # By default it checks the lines in one process per CPU; alternately, in one.
        for _ in range(2):
            for workers in (os.cpu_count() or 1, 1):
                code, last, seconds, child_cpu = standalone_verify(file, pem, workers)
                say(f"  python ledger/statement_verifier.py FILE --public-key PEM --workers "
                    f"{workers} (a new process, end to end): exit {code}, {seconds:.2f} s "
                    f"(CPU {child_cpu:.2f} s; {goal(seconds)}): {last}")
    if args.check_journal:
        for command in (("ledger", "verify"), ("ledger", "replay", "--check")):
            code, last, seconds = ipx_command(url, home, *command)
            say(f"  ipx {' '.join(command)}: exit {code} ({seconds:.1f} s): {last}")


def standalone_verify(file: Path, pem: Path, workers: int) -> tuple[int, str, float, float]:
    """The standalone verifier as a new process: (exit code, last line, wall s, CPU s of it
    and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "ledger" / "statement_verifier.py"),
                           str(file), "--public-key", str(pem), "--workers", str(workers)],
                          capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return done.returncode, (out[-1] if out else "(no output)"), seconds, cpu


def run_statement(engines: list[str], args: argparse.Namespace, problem: str | None) -> None:
    say(f"\n(b) a statement of {args.lines:,} lines over a {args.entries:,}-entry journal; "
        f"load average {os.getloadavg()[0]:.2f}")
    for name in engines:
        if name == "sqlite":
            say("\n sqlite")
            url, home, info = statement_cache(args)
            bench_statement(url, home, info["party"], args)
            continue
        if problem is not None:
            say(f"\n postgresql: SKIPPED, no server at the admin URL: {problem}")
            continue
        db, url = create_pg_database("ipx_bench_statement")
        try:
            settings = pg_settings(url, ["shared_buffers", "work_mem"])
            say(f"\n postgresql (fresh database {db}; "
                + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")")
            gen = StatementJournal(args.entries, args.lines)
            seconds = build_statement_postgresql(url, gen)
            say(f"  build: {seconds:.1f} s")
            with tempfile.TemporaryDirectory(prefix="ipx-bench-home-") as tmp:
                bench_statement(url, Path(tmp), gen.party, args)
        finally:
            drop_pg_database(db)


# --- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="distribute,statement",
                        help="comma list of distribute, statement (default both)")
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma list of sqlite, postgresql (default both)")
    parser.add_argument("--holders", type=int, default=100_000,
                        help="holders of the inventor class in (a) (default 100000)")
    parser.add_argument("--entries", type=int, default=1_000_000,
                        help="journal size in (b) (default 1000000)")
    parser.add_argument("--lines", type=int, default=10_000,
                        help="the party's statement lines in (b) (default 10000)")
    parser.add_argument("--rebuild", action="store_true",
                        help="rebuild the cached SQLite journal of (b)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each timed call and print the top functions")
    parser.add_argument("--check-journal", action="store_true",
                        help="in (b), also run `ipx ledger verify` and `ipx ledger replay "
                             "--check` over the built journal (slow)")
    parser.add_argument("--receipts", type=int, default=5,
                        help="in (a), receipts timed one after another (default 5)")
    parser.add_argument("--breakdown", action="store_true",
                        help="in (a), time one more receipt by its main steps")
    parser.add_argument("--holders-without-accounts", action="store_true",
                        help="in (a), holders without the accounts a transfer opens (holdings "
                             "from before migration 0016): the first receipt creates them")
    args = parser.parse_args(argv)
    if args.receipts < 1:
        raise SystemExit("--receipts: at least 1")
    engines = parse_engines(args.engines)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - {"distribute", "statement"}:
        raise SystemExit(f"--parts: expected distribute and/or statement, got {args.parts!r}")
    problem = pg_problem() if "postgresql" in engines else None
    for line in machine_lines(with_pg="postgresql" in engines and problem is None):
        say(line)
    if "distribute" in parts:
        run_distribute(engines, args, problem)
    if "statement" in parts:
        run_statement(engines, args, problem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
