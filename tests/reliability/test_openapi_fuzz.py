"""Schemathesis against the gateway's own OpenAPI document, on the in-process ASGI app with a
real (embedded MLflow) registry behind the admin API: for every operation, schema-valid and
schema-violating requests (with the admin token) get no server error, and every 4xx is JSON
``{"error": ...}``."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from services.gateway import Fleet, GatewayConfig, create_app
from services.host import HostConfig, ModelHost, RegistrySource
from tests.reliability.fuzzing import FAST_EXAMPLES
from tests.services.gateways import TOKEN, Recorder

pytestmark = pytest.mark.timeout(600)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES_PER_OPERATION = max(5, FAST_EXAMPLES // 20)


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis check: no 5xx but the two documented refusals, a 501 for Triton's explicit
    load and unload (not implemented: the registry's aliases decide) and a 503 with Retry-After.
    (Schemathesis' own ``not_a_server_error`` counts the 501 too.)"""
    status = response.status_code
    if status >= 500:
        planned = (status == 501 and case.operation.path.startswith("/v2/repository/models/")) or \
            (status == 503 and "retry-after" in {k.lower() for k in response.headers})
        assert planned, f"server error {status}: {response.text[:200]}"
    return None


def json_error_body(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis check: a 4xx or 5xx answer is JSON ``{"error": "<non-empty text>"}``."""
    if response.status_code >= 400:
        document = response.json()
        assert isinstance(document, dict) and isinstance(document.get("error"), str) \
            and document["error"], f"{response.status_code} without a JSON error: {response.text[:200]}"
    return None


def test_every_operation_of_the_openapi_document(registry: Any) -> None:
    hosts = {name: ModelHost(name, RegistrySource(registry), HostConfig(max_items=8))
             for name in ("images", "texts")}
    app = Recorder(create_app(GatewayConfig(admin_token=TOKEN, poll_interval_s=0),
                              Fleet(hosts, registry.canary_percent), registry))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    statuses: Counter[str] = Counter()
    skipped: set[str] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        # Random path parameters (almost always an unknown model, 404), then the served models, so
        # that the bodies reach the inference and admin code behind the name check.
        targets: list[dict[str, str] | None] = [None]
        if "model" in names:
            targets += [{"model": model, **({"version": "1"} if "version" in names else {})}
                        for model in ("images", "texts")]
        for target, mode in itertools.product(targets, GenerationMode):
            @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
                      deadline=timedelta(seconds=10),
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                             HealthCheck.data_too_large])
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=target))
            def run(case: Any) -> None:
                response = case.call(headers=AUTH)
                case.validate_response(response, checks=[no_server_error, json_error_body])
                statuses[f"{operation.label} {response.status_code}"] += 1

            try:
                run()
            except Unsatisfiable:  # nothing to violate: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE, operation.label
                skipped.add(operation.label)
    total = sum(statuses.values())
    print(f"\nschemathesis: {total} requests over {len(operations)} operations: "
          f"{dict(sorted(statuses.items()))}; no negative cases for {sorted(skipped)}")
    assert total >= len(operations) * 2
    assert not [key for key in statuses if key.endswith((" 500", " 502", " 504"))]
