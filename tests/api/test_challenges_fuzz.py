"""FUZZ, challenges only: schemathesis sends valid and invalid requests to every
/v1/challenges operation, as a funded company (so that posting reaches the domain's checks)
and as the operator: none may be a 5xx. The whole-API fuzz shares one time budget with every
other resource; this one makes sure these operations are always exercised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import money
from tests.api.test_schemathesis import _fuzz
from tests.conftest import Caller

schemathesis = pytest.importorskip("schemathesis")


@pytest.mark.fuzz
def test_challenge_operations_never_answer_5xx(app: Flask, op: Caller,
                                               new_caller: Callable[..., Caller]) -> None:
    company = new_caller("company", "Acme")
    done = op.post("/v1/deposits", {"party_id": company.party_id,
                                    "amount": money("100000000.00"), "reference": "fuzz"})
    assert done.status_code == 201, done.json
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    mine = [o for o in operations if o.path.startswith("/v1/challenges")]
    assert len(mine) >= 14
    server_errors: list[dict[str, Any]] = []
    statuses: dict[int, int] = {}
    for caller in (company, op):
        auth = {"Authorization": f"Bearer {caller.key}"}
        for operation in mine:
            for mode in (schemathesis.GenerationMode.POSITIVE,
                         schemathesis.GenerationMode.NEGATIVE):
                _fuzz(operation, mode, auth, statuses, server_errors)
    assert server_errors == []
    assert statuses.get(422, 0) > 0 and statuses.get(404, 0) > 0
