"""The model-host deployment in Ray Serve's local testing mode (no cluster): its non-batched calls
through :class:`RayHostClient`, and a host's refusal crossing the handle as a value and raised again
with its own class (so the gateway's error table applies unchanged).

Ray 2.60's ``@serve.batch`` needs a replica context that local testing mode does not provide
(``serve.get_replica_context()`` raises), so batched inference is tested on a real local Ray
(``test_ray_app.py``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.errors import OverloadedError, ServiceError, UnknownVersionError
from services.serve.ray_client import HostFailure, RayHostClient
from tests.services.bundles import make_image_bundle


def test_host_deployment_in_local_testing_mode(tmp_path: Path) -> None:
    from ray import serve

    from services.serve.deployments import ModelHostDeployment
    from zhijian_core.registry import Registry, promote

    registry = Registry()
    registry.register(make_image_bundle(tmp_path / "b1", name="local"), "local")
    promote(registry, "local", 1, "production", actor="test")
    handle = serve.run(ModelHostDeployment.bind("local", {}, 8, 0.002, 0),
                       _local_testing_mode=True)
    client = RayHostClient(handle)

    async def calls() -> None:
        assert await client.sync() == {"production": 1}
        assert (await client.readiness()).ready
        metadata = await client.metadata()
        assert metadata.name == "local" and metadata.versions == ["1"]
        with pytest.raises(UnknownVersionError, match="9"):
            await client.metadata(9)
    asyncio.run(calls())


def test_failures_keep_their_class_and_retry_after() -> None:
    failure = HostFailure.of(OverloadedError("busy", 7))
    with pytest.raises(OverloadedError) as caught:
        failure.raise_again()
    assert caught.value.retry_after_s == 7 and str(caught.value) == "busy"
    with pytest.raises(ServiceError, match="odd"):
        HostFailure("NoSuchError", "odd").raise_again()


def test_a_dead_replica_is_a_503_to_retry() -> None:
    from ray.exceptions import ActorDiedError

    from services.errors import ReplicaUnavailableError, error_headers, status_for

    class Dead:
        """A handle whose replica died while holding the request."""

        def options(self, **_: object) -> "Dead":
            return self

        @property
        def infer(self) -> "Dead":
            return self

        async def remote(self, _: object) -> None:
            raise ActorDiedError()

    with pytest.raises(ReplicaUnavailableError, match="gone") as caught:
        asyncio.run(RayHostClient(Dead()).infer(object()))  # type: ignore[arg-type]
    assert status_for(caught.value) == 503 and "Retry-After" in error_headers(caught.value)
