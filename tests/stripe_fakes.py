"""Stand-ins for Stripe in offline tests and local demos (never used by the application).

- `sign_webhook` signs a payload exactly as Stripe does (`t=<unix time>,v1=<hex HMAC-SHA256
  of "<t>.<payload>" keyed with the endpoint secret>`), written out here rather than borrowed
  from the SDK, so that the SDK's verifier is checked against an independent signer.
- `LocalStripe` runs `localstripe` (PyPI: a stateful fake Stripe server for PaymentIntents,
  charges and refunds) as a subprocess on a free loopback port.
- `RecordedConnect` is a `stripe.HTTPClient` for the real SDK: it answers what localstripe
  lacks (Connect accounts and transfers, transfer reversals, balance transactions) with
  Stripe-shaped bodies recorded from Stripe's API reference, keeps what it was asked (form
  fields and Idempotency-Key headers), and passes everything else to localstripe.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import stripe

# localstripe's PaymentIntent refuses `transfer_group` and `description`, which Stripe takes;
# the launcher lets it keep them (it has no Connect, so it does nothing more with them).
_LAUNCHER = """
import sys
from localstripe import resources, server

_init = resources.PaymentIntent.__init__

def _init_with_group(self, transfer_group=None, description=None, **kwargs):
    _init(self, **kwargs)
    self.transfer_group = transfer_group
    self.description = description

resources.PaymentIntent.__init__ = _init_with_group
sys.argv = ["localstripe", "--port", sys.argv[1], "--from-scratch"]
server.start()
"""


def sign_webhook(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send with `payload`."""
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


_event_numbers = itertools.count(1)


def event_payload(type_: str, obj: Mapping[str, Any], *, event_id: str | None = None,
                  account: str | None = None, created: int | None = None) -> str:
    """A Stripe event body (API version 2026-10-28) around `obj`."""
    body: dict[str, Any] = {
        "id": event_id or f"evt_{secrets.token_hex(8)}{next(_event_numbers)}",
        "object": "event", "api_version": stripe.api_version,
        "created": int(time.time()) if created is None else created,
        "data": {"object": dict(obj)}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": type_,
    }
    if account is not None:
        body["account"] = account
    return json.dumps(body)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LocalStripe:
    """`with LocalStripe() as url:` a fresh localstripe answering on `url` until the block ends."""

    def __init__(self, timeout: float = 20.0) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> str:
        # Its log goes to a file: a pipe nobody reads fills up and stalls the server.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        self._process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(self.port)],
            stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                raise RuntimeError(f"localstripe exited: {error[-2000:]}")
            try:
                request = urllib.request.Request(f"{self.url}/v1/charges",
                                                 headers={"Authorization": "Bearer sk_test_x"})
                with urllib.request.urlopen(request, timeout=1):
                    return self.url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("localstripe did not answer in time")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Call:
    method: str
    path: str
    form: dict[str, str]
    idempotency_key: str | None


@dataclass
class RecordedConnect(stripe.HTTPClient):
    """Connect and balance transactions for the SDK; the rest goes to `delegate_base`."""

    delegate_base: str
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    reversals: list[dict[str, Any]] = field(default_factory=list)
    extra_balance_transactions: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    decline_next_transfer: str | None = None  # a message: Stripe answers 400
    fail_next_transfer: bool = False  # Stripe answers 500: the outcome is unknown
    fee_percent: int = 3
    name = "ipx-recorded-connect"

    def __post_init__(self) -> None:
        super().__init__()
        self._delegate = stripe.RequestsClient()
        self._by_key: dict[str, tuple[str, int]] = {}
        # The PaymentIntents made through this client: its balance shows only their charges,
        # as if it were a Stripe account of its own on a localstripe shared by many tests.
        self._intents: set[str] = set()

    # --- the state tests arrange ----------------------------------------------------------

    def add_account(self, account_id: str, payouts_enabled: bool = True) -> None:
        # Recorded from https://docs.stripe.com/api/accounts/object (trimmed).
        self.accounts[account_id] = {
            "id": account_id, "object": "account", "type": "express", "country": "HK",
            "default_currency": "hkd", "charges_enabled": True,
            "payouts_enabled": payouts_enabled, "details_submitted": True,
            "capabilities": {"transfers": "active"}, "metadata": {},
            "created": int(time.time())}

    def reverse(self, transfer_id: str, amount: int | None = None) -> dict[str, Any]:
        """Reverse (part of) a transfer, as the platform or Stripe would; returns the transfer
        as the `transfer.reversed` event carries it."""
        transfer = self.transfers[transfer_id]
        amount = transfer["amount"] - transfer["amount_reversed"] if amount is None else amount
        reversal = {"id": f"trr_{secrets.token_hex(8)}", "object": "transfer_reversal",
                    "amount": amount, "currency": transfer["currency"],
                    "transfer": transfer_id, "created": int(time.time()),
                    "balance_transaction": f"txn_{secrets.token_hex(8)}", "metadata": {}}
        self.reversals.append(reversal)
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
        transfer["reversals"]["data"].append(reversal)
        transfer["reversals"]["total_count"] += 1
        event_object: dict[str, Any] = json.loads(json.dumps(transfer))
        return event_object

    def idempotency_keys(self, path_prefix: str) -> list[str | None]:
        return [c.idempotency_key for c in self.calls if c.path.startswith(path_prefix)
                and c.method == "post"]

    # --- stripe.HTTPClient ----------------------------------------------------------------

    def request(self, method: str, url: str, headers: Mapping[str, str] | None,
                post_data: Any = None, *, _usage: list[str] | None = None,
                ) -> tuple[str, int, Mapping[str, str]]:
        parts = urlsplit(url)
        path = parts.path
        form = dict(parse_qsl(post_data or "", keep_blank_values=True))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        key = (headers or {}).get("Idempotency-Key")
        self.calls.append(Call(method, path, form, key))
        if path.startswith(("/v1/transfers", "/v1/accounts", "/v1/balance_transactions")):
            return self._connect(method, path, form, query, key)
        raw, status, response_headers = self._delegate.request(method, url, headers, post_data)
        body = raw.decode() if isinstance(raw, bytes) else raw
        if path == "/v1/payment_intents" and method == "post" and status == 200:
            self._intents.add(json.loads(body)["id"])
        return body, status, response_headers

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None,
                       post_data: Any = None, *, _usage: list[str] | None = None,
                       ) -> tuple[Any, int, Mapping[str, str]]:
        raise NotImplementedError("no streaming in tests")

    def close(self) -> None:
        self._delegate.close()  # type: ignore[no-untyped-call]

    # --- the recorded side ----------------------------------------------------------------

    @staticmethod
    def _json(body: Any, status: int = 200) -> tuple[str, int, Mapping[str, str]]:
        return json.dumps(body), status, {"Request-Id": f"req_{secrets.token_hex(6)}"}

    @classmethod
    def _error(cls, status: int, message: str, type_: str = "invalid_request_error",
               ) -> tuple[str, int, Mapping[str, str]]:
        return cls._json({"error": {"type": type_, "message": message}}, status)

    def _connect(self, method: str, path: str, form: dict[str, str], query: dict[str, str],
                 key: str | None) -> tuple[str, int, Mapping[str, str]]:
        if path.startswith("/v1/accounts/") and method == "get":
            account = self.accounts.get(path.rsplit("/", 1)[-1])
            if account is None:
                return self._error(404, "No such account")
            return self._json(account)
        if path == "/v1/transfers" and method == "post":
            return self._create_transfer(form, key)
        if path.startswith("/v1/transfers/") and method == "get":
            transfer = self.transfers.get(path.rsplit("/", 1)[-1])
            return self._json(transfer) if transfer else self._error(404, "No such transfer")
        if path == "/v1/balance_transactions" and method == "get":
            return self._json(self._balance_transactions(query))
        return self._error(404, f"Unrecognized request URL ({method.upper()}: {path})")

    def _create_transfer(self, form: dict[str, str],
                         key: str | None) -> tuple[str, int, Mapping[str, str]]:
        if key is not None and key in self._by_key:  # Stripe replays the first answer
            body, status = self._by_key[key]
            return body, status, {"Idempotent-Replayed": "true"}
        if self.fail_next_transfer:
            self.fail_next_transfer = False
            return self._error(500, "An unknown error occurred", "api_error")
        if self.decline_next_transfer is not None:
            message, self.decline_next_transfer = self.decline_next_transfer, None
            answer = self._error(400, message)
        elif form.get("destination") not in self.accounts:
            answer = self._error(400, "No such destination")
        else:
            # Recorded from https://docs.stripe.com/api/transfers/object.
            transfer_id = f"tr_{secrets.token_hex(8)}"
            transfer = {
                "id": transfer_id, "object": "transfer", "amount": int(form["amount"]),
                "amount_reversed": 0, "balance_transaction": f"txn_{secrets.token_hex(8)}",
                "created": int(time.time()), "currency": form["currency"],
                "description": None, "destination": form["destination"],
                "destination_payment": f"py_{secrets.token_hex(8)}", "livemode": False,
                "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
                "reversals": {"object": "list", "data": [], "has_more": False,
                              "total_count": 0, "url": f"/v1/transfers/{transfer_id}/reversals"},
                "reversed": False, "source_transaction": form.get("source_transaction"),
                "source_type": "card", "transfer_group": form.get("transfer_group"),
            }
            self.transfers[transfer_id] = transfer
            answer = self._json(transfer)
        if key is not None:
            self._by_key[key] = (answer[0], answer[1])
        return answer

    def _localstripe(self, path: str) -> list[dict[str, Any]]:
        body, status, _ = self._delegate.request(
            "get", f"{self.delegate_base}{path}?limit=100",
            {"Authorization": "Bearer sk_test_ipx"})
        assert status == 200, body
        rows: list[dict[str, Any]] = json.loads(body)["data"]
        return rows

    def _balance_transactions(self, query: dict[str, str]) -> dict[str, Any]:
        """Stripe's balance transactions, from localstripe's charges and refunds and the
        transfers and reversals made here (shape: docs.stripe.com/api/balance_transactions)."""
        rows: list[dict[str, Any]] = []

        def add(txn: str, type_: str, amount: int, currency: str, created: int,
                source: dict[str, Any], fee: int = 0) -> None:
            rows.append({"id": txn, "object": "balance_transaction", "amount": amount,
                         "available_on": created, "created": created, "currency": currency,
                         "description": None, "fee": fee, "net": amount - fee,
                         "reporting_category": type_, "source": source, "status": "available",
                         "type": type_})

        charges = {c["id"] for c in self._localstripe("/v1/charges")
                   if c.get("payment_intent") in self._intents}
        for charge in self._localstripe("/v1/charges"):
            if charge["id"] in charges and charge.get("status") == "succeeded" \
                    and charge.get("captured"):
                add(charge["balance_transaction"], "charge", charge["amount"],
                    charge["currency"], charge["created"], charge,
                    fee=charge["amount"] * self.fee_percent // 100)
        for refund in self._localstripe("/v1/refunds"):
            if refund["charge"] in charges and refund.get("status") == "succeeded":
                add(f"txn_{refund['id']}", "refund", -refund["amount"], refund["currency"],
                    refund["created"], {"id": refund["id"], "object": "refund",
                                        "charge": refund["charge"]})
        for transfer in self.transfers.values():
            add(transfer["balance_transaction"], "transfer", -transfer["amount"],
                transfer["currency"], transfer["created"], transfer)
        for reversal in self.reversals:
            add(reversal["balance_transaction"], "transfer_refund", reversal["amount"],
                reversal["currency"], reversal["created"], reversal)
        rows.extend(self.extra_balance_transactions)
        start = int(query.get("created[gte]", 0))
        end = int(query.get("created[lt]", 2**62))
        picked = [r for r in rows if start <= r["created"] < end]
        if query.get("expand[0]") != "data.source":
            for r in picked:
                r["source"] = r["source"]["id"]
        return {"object": "list", "data": picked, "has_more": False,
                "url": "/v1/balance_transactions"}
