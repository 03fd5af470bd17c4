"""FUZZ: schemathesis generates requests (valid and invalid) for every operation in
/openapi.json and sends them through the WSGI app with the operator's key: none may be a 5xx.

Bounded: a fixed number of examples per operation and mode, derandomized (reproducible), and
a wall-clock cap of about a minute. Deselect with `-m 'not fuzz'`.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import World

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES_PER_OPERATION_AND_MODE = 30
TIME_BUDGET_SECONDS = 60.0


def _fuzz(operation: Any, mode: Any, auth: dict[str, str], statuses: dict[int, int],
          server_errors: list[dict[str, Any]]) -> None:
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(max_examples=EXAMPLES_PER_OPERATION_AND_MODE, deadline=None, database=None,
              derandomize=True, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(mode))
    def call(case: Any) -> None:
        response = case.call(headers=auth)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            server_errors.append({
                "operation": operation.label, "mode": mode.value, "path": case.path_parameters,
                "query": case.query, "body": case.body, "status": response.status_code,
                "response": response.text[:500]})

    call()


@pytest.mark.fuzz
def test_schemathesis_fuzz_finds_no_server_errors(app: Flask, world: World) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    auth = {"Authorization": f"Bearer {world.op.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {op.label for op in operations}
    assert "POST /v1/assets" in documented and "GET /v1/ledger/proofs/inclusion" in documented

    server_errors: list[dict[str, Any]] = []
    statuses: dict[int, int] = {}
    started = time.monotonic()
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    ran: set[str] = set()
    for operation in operations:
        for mode in modes:
            if time.monotonic() - started > TIME_BUDGET_SECONDS:
                break
            _fuzz(operation, mode, auth, statuses, server_errors)
            ran.add(operation.label)

    assert server_errors == []
    assert ran == documented, f"time budget hit; not fuzzed: {sorted(documented - ran)}"
    # The run did exercise the API: successes, validation refusals and 404s all occurred.
    assert statuses.get(200, 0) > 0 and statuses.get(422, 0) > 0 and statuses.get(404, 0) > 0
