"""Export of a cap table as recorded on IPX in the Open Cap Table Format (OCF), pure.

OCF (by the Open Cap Table Coalition) is a set of JSON files, each an object with
``file_type`` and ``items``, tied together by a manifest. :func:`ocf_files` builds them and
:func:`export_zip` writes them into a zip, deterministically: fixed entry timestamps
(1980-01-01 00:00), sorted entry names, sorted JSON keys, so the same table always gives the
same bytes. The target is OCF 1.2 (``ocf_version`` "1.2.0"); the required fields below were
read from the OCF JSON schemas (``schema/objects``, ``schema/primitives``, ``schema/files``).

Files (every one is referenced from the manifest with its MD5)::

    Manifest.ocf.json               OCF_MANIFEST_FILE
    Stakeholders.ocf.json           OCF_STAKEHOLDERS_FILE
    StockClasses.ocf.json           OCF_STOCK_CLASSES_FILE
    StockPlans.ocf.json             OCF_STOCK_PLANS_FILE        (the option pool, if any)
    StockLegendTemplates.ocf.json   OCF_STOCK_LEGEND_TEMPLATES_FILE   (empty)
    Transactions.ocf.json           OCF_TRANSACTIONS_FILE
    Valuations.ocf.json             OCF_VALUATIONS_FILE         (empty)
    VestingTerms.ocf.json           OCF_VESTING_TERMS_FILE      (empty)

Required fields covered (:data:`REQUIRED_FIELDS`, checked by :func:`missing_fields`):

* manifest: ``ocf_version``, ``file_type``, ``issuer``, ``as_of``, ``generated_at``,
  ``stock_plans_files``, ``stock_legend_templates_files``, ``stock_classes_files``,
  ``vesting_terms_files``, ``valuations_files``, ``transactions_files``,
  ``stakeholders_files``; each file reference has ``filepath`` and ``md5``;
* every other file: ``file_type``, ``items``;
* every object (OCF's ``Object`` primitive): ``id``, ``object_type``;
* ``ISSUER``: ``legal_name``, ``formation_date``, ``country_of_formation``;
* ``STAKEHOLDER``: ``name`` (with ``legal_name``), ``stakeholder_type``
  (``INDIVIDUAL`` | ``INSTITUTION``);
* ``STOCK_CLASS``: ``name``, ``class_type`` (``COMMON`` | ``PREFERRED``),
  ``default_id_prefix``, ``initial_shares_authorized``, ``votes_per_share``, ``seniority``;
* ``STOCK_PLAN``: ``plan_name``, ``initial_shares_reserved``, ``stock_class_ids``;
* ``TX_STOCK_ISSUANCE``: ``date`` (Transaction), ``security_id`` (SecurityTransaction),
  ``custom_id``, ``stakeholder_id``, ``security_law_exemptions`` (Issuance),
  ``stock_class_id``, ``share_price`` (``amount``, ``currency``), ``quantity``,
  ``stock_legend_ids``;
* ``TX_STOCK_TRANSFER``: ``date``, ``security_id``, ``resulting_security_ids`` (Transfer),
  ``quantity``.

Quantities, prices and share counts are OCF ``Numeric`` strings (``"52631"``, ``"0.01"``);
dates are ``YYYY-MM-DD``.

**Securities.** OCF tracks securities (one per issuance), not balances. Each IPX issuance
becomes one ``TX_STOCK_ISSUANCE`` whose ``id`` is the IPX issuance id and whose security is
``<id>.security``. An IPX transfer consumes the sender's securities of that class oldest
first: for each security touched there is one ``TX_STOCK_TRANSFER`` (id: the IPX transfer id,
or ``<id>.<n>`` when it touches several) followed by the issuance of the resulting security
to the receiver (``<piece>.issuance`` / ``<piece>.security``) and, for a partial transfer,
of the balance left to the sender (``<piece>.balance.issuance`` /
``<piece>.balance.security``), named in ``balance_security_id``. A resulting security keeps
the original price per share unless the transfer names its own.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from contracts.cap_table import (
    CapTable,
    ClassType,
    Issuance,
    StakeholderKind,
    Transfer,
)
from contracts.terms import is_territory_code, percent_text
from ledger.errors import InvalidInput

__all__ = [
    "FILE_NAMES",
    "MANIFEST_NAME",
    "OCF_MANIFEST_FILE",
    "OCF_STAKEHOLDERS_FILE",
    "OCF_STOCK_CLASSES_FILE",
    "OCF_STOCK_LEGEND_TEMPLATES_FILE",
    "OCF_STOCK_PLANS_FILE",
    "OCF_TRANSACTIONS_FILE",
    "OCF_VALUATIONS_FILE",
    "OCF_VERSION",
    "OCF_VESTING_TERMS_FILE",
    "REQUIRED_FIELDS",
    "OcfIssuer",
    "export_zip",
    "missing_fields",
    "ocf_files",
    "read_zip",
]

OCF_VERSION = "1.2.0"

OCF_MANIFEST_FILE = "OCF_MANIFEST_FILE"
OCF_STAKEHOLDERS_FILE = "OCF_STAKEHOLDERS_FILE"
OCF_STOCK_CLASSES_FILE = "OCF_STOCK_CLASSES_FILE"
OCF_STOCK_PLANS_FILE = "OCF_STOCK_PLANS_FILE"
OCF_STOCK_LEGEND_TEMPLATES_FILE = "OCF_STOCK_LEGEND_TEMPLATES_FILE"
OCF_TRANSACTIONS_FILE = "OCF_TRANSACTIONS_FILE"
OCF_VALUATIONS_FILE = "OCF_VALUATIONS_FILE"
OCF_VESTING_TERMS_FILE = "OCF_VESTING_TERMS_FILE"

MANIFEST_NAME = "Manifest.ocf.json"
FILE_NAMES: Mapping[str, str] = {
    OCF_STAKEHOLDERS_FILE: "Stakeholders.ocf.json",
    OCF_STOCK_CLASSES_FILE: "StockClasses.ocf.json",
    OCF_STOCK_PLANS_FILE: "StockPlans.ocf.json",
    OCF_STOCK_LEGEND_TEMPLATES_FILE: "StockLegendTemplates.ocf.json",
    OCF_TRANSACTIONS_FILE: "Transactions.ocf.json",
    OCF_VALUATIONS_FILE: "Valuations.ocf.json",
    OCF_VESTING_TERMS_FILE: "VestingTerms.ocf.json",
}
"""The data files' names in the zip, by file type (the manifest is :data:`MANIFEST_NAME`)."""

_MANIFEST_KEYS: Mapping[str, str] = {  # manifest key -> file type it lists
    "stakeholders_files": OCF_STAKEHOLDERS_FILE,
    "stock_classes_files": OCF_STOCK_CLASSES_FILE,
    "stock_plans_files": OCF_STOCK_PLANS_FILE,
    "stock_legend_templates_files": OCF_STOCK_LEGEND_TEMPLATES_FILE,
    "transactions_files": OCF_TRANSACTIONS_FILE,
    "valuations_files": OCF_VALUATIONS_FILE,
    "vesting_terms_files": OCF_VESTING_TERMS_FILE,
}

_OBJECT = ("id", "object_type")
REQUIRED_FIELDS: Mapping[str, tuple[str, ...]] = {
    OCF_MANIFEST_FILE: ("ocf_version", "file_type", "issuer", "as_of", "generated_at",
                        *sorted(_MANIFEST_KEYS)),
    "FILE": ("file_type", "items"),
    "FILE_REFERENCE": ("filepath", "md5"),
    "ISSUER": (*_OBJECT, "legal_name", "formation_date", "country_of_formation"),
    "STAKEHOLDER": (*_OBJECT, "name", "stakeholder_type"),
    "STOCK_CLASS": (*_OBJECT, "name", "class_type", "default_id_prefix",
                    "initial_shares_authorized", "votes_per_share", "seniority"),
    "STOCK_PLAN": (*_OBJECT, "plan_name", "initial_shares_reserved", "stock_class_ids"),
    "TX_STOCK_ISSUANCE": (*_OBJECT, "date", "security_id", "custom_id", "stakeholder_id",
                          "security_law_exemptions", "stock_class_id", "share_price",
                          "quantity", "stock_legend_ids"),
    "TX_STOCK_TRANSFER": (*_OBJECT, "date", "security_id", "resulting_security_ids",
                          "quantity"),
}
"""Required fields by object type (and ``FILE`` / ``FILE_REFERENCE`` for containers)."""

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_MAX_NAME = 200


@dataclass(frozen=True)
class OcfIssuer:
    """The issuer's legal details OCF requires (IPX records the rest in the cap table).

    ``id`` defaults to the cap table's ``issuer_id``; ``country_of_formation`` is an ISO
    3166-1 alpha-2 code.
    """

    legal_name: str
    formation_date: date
    country_of_formation: str
    id: str | None = None


def _numeric(value: int | Decimal) -> str:
    return str(value) if isinstance(value, int) else percent_text(value)


def _check_issuer(issuer: Any, table: CapTable) -> None:
    if not isinstance(issuer, OcfIssuer):
        raise InvalidInput("must be the issuer's details", field="issuer")
    name = issuer.legal_name
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise InvalidInput(f"must be a non-blank string of at most {_MAX_NAME} characters",
                           field="issuer.legal_name")
    if not isinstance(issuer.formation_date, date) or type(issuer.formation_date) is not date:
        raise InvalidInput("must be a date", field="issuer.formation_date")
    if not isinstance(issuer.country_of_formation, str) \
            or not is_territory_code(issuer.country_of_formation):
        raise InvalidInput("must be an ISO 3166-1 alpha-2 country code such as 'HK'",
                           field="issuer.country_of_formation")
    if issuer.id is not None and issuer.id != table.issuer_id:
        raise InvalidInput(f"the cap table is {table.issuer_id}'s, not {issuer.id}'s",
                           field="issuer.id")


def _prefixes(table: CapTable) -> dict[str, str]:
    """A distinct certificate prefix per class: its name's letters and digits, upper case."""
    out: dict[str, str] = {}
    for i, c in enumerate(table.classes):
        base = re.sub(r"[^A-Z0-9]", "", c.name.upper()) or "CLASS"
        prefix = f"{base}-"
        if prefix in out.values():
            prefix = f"{base}{i + 1}-"
        out[c.name] = prefix
    return out


class _Securities:
    """Open OCF securities while replaying the table, and the custom-id counters."""

    def __init__(self, table: CapTable, currency: str) -> None:
        self.currency = currency
        self.prefix = _prefixes(table)
        self.count = {c.name: 0 for c in table.classes}
        # security id -> [stakeholder, class, balance, price]; insertion order = age.
        self.open: dict[str, list[Any]] = {}

    def issue(self, *, object_id: str, security_id: str, stakeholder: str, share_class: str,
              shares: int, on: date, price: Decimal, consideration: str | None
              ) -> dict[str, Any]:
        self.count[share_class] += 1
        self.open[security_id] = [stakeholder, share_class, shares, price]
        item: dict[str, Any] = {
            "object_type": "TX_STOCK_ISSUANCE",
            "id": object_id,
            "date": on.isoformat(),
            "security_id": security_id,
            "custom_id": f"{self.prefix[share_class]}{self.count[share_class]}",
            "stakeholder_id": stakeholder,
            "stock_class_id": share_class,
            "share_price": {"amount": _numeric(price), "currency": self.currency},
            "quantity": str(shares),
            "security_law_exemptions": [],
            "stock_legend_ids": [],
        }
        if consideration is not None:
            item["consideration_text"] = consideration
        return item

    def transfer(self, tx: Transfer) -> list[dict[str, Any]]:
        sources = [(sid, rec) for sid, rec in self.open.items()
                   if rec[0] == tx.from_stakeholder and rec[1] == tx.share_class]
        pieces: list[tuple[str, list[Any], int]] = []
        left = tx.shares
        for sid, rec in sources:
            if left == 0:
                break
            take = min(rec[2], left)
            pieces.append((sid, rec, take))
            left -= take
        # The cap table refused any overdraw when it was built, so ``left`` is 0 here.
        items: list[dict[str, Any]] = []
        for n, (sid, rec, take) in enumerate(pieces, start=1):
            piece = tx.id if len(pieces) == 1 else f"{tx.id}.{n}"
            balance = rec[2] - take
            del self.open[sid]
            resulting = f"{piece}.security"
            transfer: dict[str, Any] = {
                "object_type": "TX_STOCK_TRANSFER",
                "id": piece,
                "date": tx.date.isoformat(),
                "security_id": sid,
                "quantity": str(take),
                "resulting_security_ids": [resulting],
            }
            if balance:
                transfer["balance_security_id"] = f"{piece}.balance.security"
            if tx.consideration is not None:
                transfer["consideration_text"] = tx.consideration
            items.append(transfer)
            price = tx.price_per_share if tx.price_per_share is not None else rec[3]
            items.append(self.issue(object_id=f"{piece}.issuance", security_id=resulting,
                                    stakeholder=tx.to_stakeholder, share_class=tx.share_class,
                                    shares=take, on=tx.date, price=price, consideration=None))
            if balance:
                items.append(self.issue(object_id=f"{piece}.balance.issuance",
                                        security_id=f"{piece}.balance.security",
                                        stakeholder=tx.from_stakeholder,
                                        share_class=tx.share_class, shares=balance,
                                        on=tx.date, price=rec[3], consideration=None))
        return items


def _encode(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            ).encode("utf-8")


def _documents(cap_table: CapTable, issuer: OcfIssuer, *, as_of: date | None,
               generated_at: datetime | None) -> tuple[dict[str, dict[str, Any]], bytes]:
    """The data files by name, and the manifest's encoded bytes."""
    _check_issuer(issuer, cap_table)
    last = cap_table.transactions[-1].date if cap_table.transactions else None
    if as_of is None:
        as_of = max(d for d in (issuer.formation_date, last) if d is not None)
    elif not isinstance(as_of, date) or type(as_of) is not date:
        raise InvalidInput("must be a date", field="as_of")
    elif last is not None and as_of < last:
        raise InvalidInput(f"the cap table has transactions up to {last.isoformat()}; "
                           "export it as of that date or later", field="as_of")
    if generated_at is None:
        generated_at = datetime.combine(as_of, time(0), tzinfo=UTC)
    elif not isinstance(generated_at, datetime) or generated_at.utcoffset() is None:
        raise InvalidInput("must be a date and time with an offset", field="generated_at")

    stakeholders = [{
        "object_type": "STAKEHOLDER",
        "id": s.id,
        "name": {"legal_name": s.name},
        "stakeholder_type": ("INDIVIDUAL" if s.kind is StakeholderKind.INDIVIDUAL
                             else "INSTITUTION"),
    } for s in cap_table.stakeholders]

    prefixes = _prefixes(cap_table)
    classes = [{
        "object_type": "STOCK_CLASS",
        "id": c.name,
        "name": c.name,
        "class_type": "PREFERRED" if c.class_type is ClassType.PREFERRED else "COMMON",
        "default_id_prefix": prefixes[c.name],
        "initial_shares_authorized": str(c.authorised),
        "votes_per_share": str(c.votes_per_share),
        # OCF requires a seniority; a class recorded without one ranks as 1, equal to all.
        "seniority": str(c.seniority if c.seniority is not None else 1),
    } for c in cap_table.classes]

    plans: list[dict[str, Any]] = []
    pool = cap_table.option_pool
    if pool is not None:
        plans.append({
            "object_type": "STOCK_PLAN",
            "id": "option-pool",
            "plan_name": pool.name,
            "initial_shares_reserved": str(pool.reserved),
            "stock_class_ids": [pool.share_class],
        })

    securities = _Securities(cap_table, cap_table.currency)
    transactions: list[dict[str, Any]] = []
    for tx in cap_table.transactions:
        if isinstance(tx, Issuance):
            transactions.append(securities.issue(
                object_id=tx.id, security_id=f"{tx.id}.security", stakeholder=tx.stakeholder,
                share_class=tx.share_class, shares=tx.shares, on=tx.date,
                price=tx.price_per_share, consideration=tx.consideration))
        else:
            transactions.extend(securities.transfer(tx))

    items: dict[str, list[dict[str, Any]]] = {
        OCF_STAKEHOLDERS_FILE: stakeholders,
        OCF_STOCK_CLASSES_FILE: classes,
        OCF_STOCK_PLANS_FILE: plans,
        OCF_STOCK_LEGEND_TEMPLATES_FILE: [],
        OCF_TRANSACTIONS_FILE: transactions,
        OCF_VALUATIONS_FILE: [],
        OCF_VESTING_TERMS_FILE: [],
    }
    files = {FILE_NAMES[t]: {"file_type": t, "items": its} for t, its in items.items()}
    manifest: dict[str, Any] = {
        "ocf_version": OCF_VERSION,
        "file_type": OCF_MANIFEST_FILE,
        "issuer": {
            "object_type": "ISSUER",
            "id": cap_table.issuer_id,
            "legal_name": issuer.legal_name,
            "formation_date": issuer.formation_date.isoformat(),
            "country_of_formation": issuer.country_of_formation,
        },
        "as_of": as_of.isoformat(),
        "generated_at": generated_at.isoformat().replace("+00:00", "Z"),
    }
    for key, file_type in _MANIFEST_KEYS.items():
        name = FILE_NAMES[file_type]
        manifest[key] = [{"filepath": name,
                          "md5": hashlib.md5(_encode(files[name]),
                                             usedforsecurity=False).hexdigest()}]
    return files, _encode(manifest)


def ocf_files(cap_table: CapTable, issuer: OcfIssuer, *, as_of: date | None = None,
              generated_at: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Every OCF file as a JSON object, by file name (the manifest included).

    ``as_of`` defaults to the last transaction's date (or the formation date if there is
    none) and may not be earlier than the last transaction; ``generated_at`` defaults to
    midnight UTC of ``as_of``, so the export is a pure function of the table. Raises
    ``InvalidInput`` for bad issuer details (``issuer.<field>``) or dates.
    """
    files, manifest = _documents(cap_table, issuer, as_of=as_of, generated_at=generated_at)
    return {MANIFEST_NAME: json.loads(manifest), **files}


def export_zip(cap_table: CapTable, issuer: OcfIssuer, *, as_of: date | None = None,
               generated_at: datetime | None = None) -> bytes:
    """The OCF files of :func:`ocf_files` in a zip: deflated, sorted entry names, fixed
    timestamps and permissions, UTF-8 JSON with sorted keys and a final newline."""
    files, manifest = _documents(cap_table, issuer, as_of=as_of, generated_at=generated_at)
    encoded = {name: _encode(doc) for name, doc in files.items()}
    encoded[MANIFEST_NAME] = manifest
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(encoded):
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, encoded[name], compresslevel=9)
    return buffer.getvalue()


def read_zip(data: bytes) -> dict[str, Any]:
    """The JSON documents of an OCF zip, by entry name (for round trips and checks)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: json.loads(zf.read(name).decode("utf-8")) for name in zf.namelist()}


def missing_fields(files: Mapping[str, Any]) -> list[str]:
    """Every required field (see :data:`REQUIRED_FIELDS`) absent from ``files`` (as from
    :func:`ocf_files` or :func:`read_zip`), as ``"<file>: <where> <field>"``; empty when all
    are present. Also reports a manifest reference to a file that is not there."""
    problems: list[str] = []

    def need(obj: Any, kind: str, where: str) -> None:
        if not isinstance(obj, Mapping):
            problems.append(f"{where}: not an object")
            return
        problems.extend(f"{where} {key}" for key in REQUIRED_FIELDS[kind] if key not in obj)

    for name, doc in sorted(files.items()):
        if name == MANIFEST_NAME:
            need(doc, OCF_MANIFEST_FILE, f"{name}:")
            if isinstance(doc, Mapping):
                need(doc.get("issuer"), "ISSUER", f"{name}: issuer")
                for key in _MANIFEST_KEYS:
                    for i, ref in enumerate(doc.get(key) or []):
                        need(ref, "FILE_REFERENCE", f"{name}: {key}[{i}]")
                        if isinstance(ref, Mapping) and ref.get("filepath") not in files:
                            problems.append(f"{name}: {key}[{i}] names a missing file")
            continue
        need(doc, "FILE", f"{name}:")
        for i, item in enumerate(doc.get("items") or [] if isinstance(doc, Mapping) else []):
            kind = item.get("object_type") if isinstance(item, Mapping) else None
            if kind not in REQUIRED_FIELDS:
                problems.append(f"{name}: items[{i}] has an unknown object_type {kind!r}")
                continue
            need(item, str(kind), f"{name}: items[{i}]")
    return problems
