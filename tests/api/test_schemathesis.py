"""FUZZ: schemathesis generates requests (valid and invalid) for every operation in
/openapi.json and sends them through the WSGI app with the operator's key: none may be a 5xx.

Bounded by a fixed number of examples per operation and mode, derandomized (reproducible), so
that every operation is fuzzed on every run however slow the machine. Deselect with
`-m 'not fuzz'`.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import World

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES_PER_OPERATION_AND_MODE = 12


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

    try:
        call()
    except hypothesis.errors.Unsatisfiable:
        # An operation with no parameters and no body has nothing to make invalid.
        if mode != schemathesis.GenerationMode.NEGATIVE:
            raise


@pytest.mark.fuzz
def test_schemathesis_fuzz_finds_no_server_errors(app: Flask, world: World) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    auth = {"Authorization": f"Bearer {world.op.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {op.label for op in operations}
    assert "POST /v1/assets" in documented and "GET /v1/ledger/proofs/inclusion" in documented

    server_errors: list[dict[str, Any]] = []
    statuses: dict[int, int] = {}
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation in operations:
        for mode in modes:
            _fuzz(operation, mode, auth, statuses, server_errors)

    assert server_errors == []
    # The run did exercise the API: successes, validation refusals and 404s all occurred.
    assert statuses.get(200, 0) > 0 and statuses.get(422, 0) > 0 and statuses.get(404, 0) > 0
