"""The `ipx` command line: the contract that scripts outside the project drive."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

# Each command imports what it needs when it runs: `ipx verify-statement` must start fast on
# an inventor's machine, and importing the whole application (SQLAlchemy, Alembic, Stripe, the
# services) cost a second before it could begin.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from api.config import Settings

err = Console(stderr=True)


@click.group()
def main() -> None:
    """IPX: an open, verifiable exchange for intellectual property."""


def _prepare(settings: Settings) -> None:
    import migrations
    from ledger.signing_key import load_or_create_signing_key

    if settings.database_url.startswith("sqlite:///"):
        # Make the SQLite file's folder (relative paths live under the working directory;
        # `sqlite:////abs/path` leaves an absolute one), as IPX_HOME's is made for the key.
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True,
                                                                             exist_ok=True)
    migrations.upgrade(settings.database_url)
    load_or_create_signing_key(settings.home)


@main.command()
def init() -> None:
    """Create or upgrade the schema and the signing key; print a new operator API key last."""
    from api.config import Settings
    from ledger.services.parties import bootstrap_operator
    from ledger.unit_of_work import UnitOfWork

    settings = Settings.from_env()
    _prepare(settings)
    sessions = _sessions()
    party, key = bootstrap_operator(UnitOfWork(sessions))
    click.echo(f"database: {settings.database_url}")
    click.echo(f"signing key: {settings.home / 'ledger-signing-key.pem'}")
    click.echo(f"operator party: {party.id}")
    click.echo("new operator API key (shown once):")
    click.echo(key.key)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration."""
    from api.config import Settings

    settings = Settings.from_env()
    _prepare(settings)
    click.echo("schema is up to date")


def _serve(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    from api.app import create_app

    app = create_app()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")

        def load(self) -> Any:
            return app

    Server().run()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Run the API with gunicorn until stopped."""
    _serve(host, port, workers)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Set up (schema, key, demo data on first start) and serve: what `make run` does."""
    from api.config import Settings
    from api.demo import load_demo

    settings = Settings.from_env()
    _prepare(settings)
    sessions = _sessions()
    path = load_demo(sessions, settings.home)
    if path is not None:
        click.echo(f"demo marketplace loaded; its parties' API keys are in {path}")
    else:
        click.echo("existing data kept; demo keys (if any) are in "
                   f"{settings.home / 'demo-keys.json'}")
    click.echo(f"API on http://{host}:{port}  docs: /docs  spec: /openapi.json")
    _serve(host, port, 2)


@main.group()
def ledger() -> None:
    """The journal."""


@ledger.command()
def verify() -> None:
    """Recompute every leaf, the chain, the Merkle tree and every checkpoint signature."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from sqlalchemy import select

    from api.config import Settings
    from ledger.audit import verify_journal
    from ledger.models import JournalHead
    from ledger.signing_key import load_signing_key

    settings = Settings.from_env()
    key = load_signing_key(settings.home).public_key()
    sessions = _sessions(read_only=True)
    with sessions() as session:
        total = session.execute(select(JournalHead.size)).scalar_one()
        with Progress(TextColumn("verifying journal"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=True) as bar:
            task = bar.add_task("verify", total=total)
            report = verify_journal(session, key, settings.origin,
                                    lambda n: bar.update(task, completed=n) if n % 5000 == 0
                                    else None)
    if report.ok:
        click.echo(f"journal intact: {report.entries} entries, "
                   f"{report.checkpoints} checkpoints verified")
        return
    click.echo(f"journal BROKEN at seq {report.first_bad_seq}: {report.reason}", err=True)
    sys.exit(1)


@ledger.command()
@click.option("--check", is_flag=True, required=True,
              help="compare the rebuilt balances and holdings with the tables")
def replay(check: bool) -> None:
    """Rebuild balances and holdings from the journal alone and compare with the tables (and
    the postings' sums with the balances)."""
    from exchange.replay import compare_orders
    from ledger.replay import compare

    sessions = _sessions(read_only=True)
    with sessions() as session:
        differences = compare(session) + compare_orders(session)
    for line in differences:
        click.echo(line, err=True)
    if differences:
        click.echo(f"{len(differences)} differences between the journal and the tables", err=True)
        sys.exit(1)
    click.echo("replay matches the tables: balances, postings, holdings, orders and trades "
               "agree")


@main.command("verify-statement")
@click.argument("statement_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False),
              help="the journal's public key (PEM), obtained independently of the statement")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="processes checking the lines of a long statement (default: one per CPU)")
def verify_statement_command(statement_file: str, public_key: str | None,
                             workers: int | None) -> None:
    """Check a statement offline: signature, every proof, balances and every distribution."""
    from ledger import statement_verifier

    argv = [statement_file] + (["--public-key", public_key] if public_key else []) + (
        ["--workers", str(workers)] if workers else [])
    sys.exit(statement_verifier.main(argv))


def _sessions(*, read_only: bool = False) -> sessionmaker[Session]:
    from api.config import Settings
    from ledger.db import make_engine, make_session_factory

    return make_session_factory(make_engine(Settings.from_env().database_url,
                                            read_only=read_only))


@main.group()
def auctions() -> None:
    """Call auctions."""


@auctions.command("run-due")
def auctions_run_due() -> None:
    """Run every call auction whose time has come (run it from cron or a timer)."""
    from exchange.services.auctions import run_due_auctions
    from ledger.unit_of_work import UnitOfWork

    sessions = _sessions()
    outcomes = run_due_auctions(lambda: UnitOfWork(sessions))
    for o in outcomes:
        click.echo(f"{o.instrument_id}: " + (f"{o.quantity} units at {o.price}"
                                             if o.price is not None else "no cross"))
    click.echo(f"{len(outcomes)} auctions run")


@main.group()
def orders() -> None:
    """Orders."""


@orders.command("expire-due")
def orders_expire_due() -> None:
    """Expire every GTD order whose time has come and release what it holds."""
    from exchange.services.trading import expire_due_orders
    from ledger.unit_of_work import UnitOfWork

    count = expire_due_orders(UnitOfWork(_sessions()))
    click.echo(f"{count} orders expired")


@main.group("licence-units")
def licence_units() -> None:
    """Licence-unit tranches."""


@licence_units.command("close-due")
def licence_units_close_due() -> None:
    """Close every tranche whose subscription period has ended: buyers pay, units are issued."""
    from contracts.services.licence_units import close_due_tranches
    from ledger.unit_of_work import UnitOfWork

    sessions = _sessions()
    closed = close_due_tranches(lambda: UnitOfWork(sessions))
    for view in closed:
        click.echo(f"{view.tranche.id}: {view.tranche.sold} of {view.tranche.units} units sold")
    click.echo(f"{len(closed)} tranches closed")


@main.group("licences")
def licences_group() -> None:
    """Licence grants."""


@licences_group.command("expire-due")
def licences_expire_due() -> None:
    """Expire every active licence whose term has ended (its end date, the first day not
    licensed, is today or earlier in UTC); run it from cron or a timer."""
    from contracts.services.licences import expire_due_grants
    from ledger.unit_of_work import UnitOfWork

    sessions = _sessions()
    expired = expire_due_grants(lambda: UnitOfWork(sessions), datetime.now(UTC).date())
    for grant in expired:
        click.echo(f"{grant.id}: expired (ended {grant.end_date.isoformat()})")
    click.echo(f"{len(expired)} licences expired")


@main.group()
def payments() -> None:
    """Payments through the configured provider (IPX_PAYMENTS_PROVIDER)."""


def _utc(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"'{text}' is not an ISO 8601 time") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@payments.command("reconcile")
@click.option("--from", "start", required=True, help="start of the period, ISO 8601 (UTC)")
@click.option("--to", "end", required=True, help="end of the period (excluded)")
def payments_reconcile(start: str, end: str) -> None:
    """Compare the ledger's Stripe clearing account with Stripe's balance transactions over
    [from, to): list every difference; exit 1 if there is any."""
    from rich.table import Table

    from api.config import Settings
    from ledger.currency import format_minor
    from ledger.errors import DomainError
    from ledger.unit_of_work import UnitOfWork
    from payments.config import make_provider
    from payments.provider import ProviderUnavailable
    from payments.services.reconciliation import reconcile_as_operator

    try:
        result = reconcile_as_operator(UnitOfWork(_sessions()),
                                       make_provider(Settings.from_env().payments),
                                       _utc(start), _utc(end))
    except (DomainError, ProviderUnavailable, ValueError) as error:  # ValueError: settings
        err.print(f"cannot reconcile: {error}")
        sys.exit(2)
    table = Table(title=f"differences {result.start.isoformat()} to {result.end.isoformat()}")
    for column in ("stripe object", "currency", "ledger", "stripe", "why", "references"):
        table.add_column(column)
    for d in result.differences:
        table.add_row(d.key, d.currency, format_minor(d.ledger, d.currency),
                      format_minor(d.provider, d.currency), d.reason, ", ".join(d.references))
    console = Console()
    if not console.is_terminal:  # piped to a file or a test: wide enough for whole ids
        console = Console(width=200)
    if result.differences:
        console.print(table)
    click.echo(f"{result.ledger_movements} ledger movements, {result.provider_movements} "
               f"Stripe balance transactions ({result.not_mirrored} others not mirrored): "
               f"{len(result.differences)} differences")
    sys.exit(1 if result.differences else 0)


@main.group()
def challenges() -> None:
    """Challenges (揭榜掛帥)."""


@challenges.command("expire-due")
def challenges_expire_due() -> None:
    """Expire every challenge whose deadline passed without an award (or without confirmed
    matching funds) and refund its holds (run it from cron or a timer)."""
    from contracts.services.challenges import expire_due as expire_due_challenges
    from ledger.currency import format_minor
    from ledger.unit_of_work import UnitOfWork

    sessions = _sessions()
    expired = expire_due_challenges(lambda: UnitOfWork(sessions))
    for view in expired:
        refunds = ", ".join(f"{party} {format_minor(amount, view.challenge.currency)}"
                            for party, amount in view.refunds.items())
        click.echo(f"{view.challenge.id}: expired, refunded {refunds}")
    click.echo(f"{len(expired)} challenges expired")


if __name__ == "__main__":
    main()
