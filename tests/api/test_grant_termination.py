"""`POST /v1/licences/{id}/terminate` through the Flask client: who may end a licence, the
problem+json answers to bad bodies, Idempotency-Key replays, and an ended exclusive licence
no longer blocking a new one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.api.conftest import assert_problem, tree_size
from tests.api.test_licences import _grant, world  # noqa: F401 (a fixture)


def _terminate(caller: Any, grant_id: str, body: Any, **kw: Any) -> Any:
    return caller.post(f"/v1/licences/{grant_id}/terminate", body, **kw)


def test_terminate_frees_the_exclusive_field(world: dict[str, Any],  # noqa: F811
                                             client: Any) -> None:
    uni, acme, beta = world["uni"], world["acme"], world["beta"]
    first = _grant(world, acme, upfront_fee="100.00")
    assert first.status_code == 200, first.json
    grant_id = first.json["grant"]["id"]
    assert _grant(world, beta).status_code == 409

    size = tree_size(client)
    for bad, field in (({}, "reason"), ({"reason": ""}, "reason"),
                       ({"reason": "x" * 501}, "reason"), ({"reason": 7}, "reason"),
                       ({"reason": "ok", "why": "typo"}, "why")):
        assert_problem(_terminate(uni, grant_id, bad), 422, fields=[field])
    assert_problem(_terminate(uni, grant_id, {"reason": "   "}), 422, fields=["reason"])
    assert_problem(_terminate(beta, grant_id, {"reason": "not mine"}), 404)
    assert_problem(client.post(f"/v1/licences/{grant_id}/terminate",
                               json={"reason": "anonymous"}), 401)
    assert tree_size(client) == size  # every refusal wrote nothing

    key = {"Idempotency-Key": "terminate-1"}
    ended = _terminate(uni, grant_id, {"reason": "breach of clause 7"}, headers=key)
    assert ended.status_code == 200, ended.json
    assert ended.json["id"] == grant_id and ended.json["status"] == "terminated"
    # The licence now ends on the day of termination; the terms keep the agreed end.
    today = datetime.now(UTC).date().isoformat()
    assert ended.json["end_date"] == min(ended.json["terms"]["end"], today)
    assert tree_size(client) == size + 1
    replayed = _terminate(uni, grant_id, {"reason": "breach of clause 7"}, headers=key)
    assert replayed.status_code == 200 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == ended.json and tree_size(client) == size + 1

    again = assert_problem(_terminate(acme, grant_id, {"reason": "again"}), 409)
    assert "terminated" in again["detail"]
    assert acme.get(f"/v1/licences/{grant_id}").json["status"] == "terminated"
    # The upfront invoice stays payable, and Beta's exclusive licence now executes.
    (invoice,) = acme.get("/v1/invoices").json
    assert acme.post(f"/v1/invoices/{invoice['id']}/pay").status_code == 200
    assert _grant(world, beta).status_code == 200


def test_the_licensee_terminates(world: dict[str, Any]) -> None:  # noqa: F811
    acme = world["acme"]
    grant_id = _grant(world, acme).json["grant"]["id"]
    ended = _terminate(acme, grant_id, {"reason": "product discontinued"})
    assert ended.status_code == 200 and ended.json["status"] == "terminated"
    report = acme.post(f"/v1/licences/{grant_id}/royalty-reports", {
        "period_start": "2099-01-01", "period_end": "2099-04-01",
        "net_sales": {"amount": "1.00", "currency": "HKD"}})
    assert_problem(report, 409, fields=["period"])
