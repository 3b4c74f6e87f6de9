"""The shipped Serve config files validate against Ray Serve's own schema and our typed builder."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.serve.config import ServeArgs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "serve"


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("*.yaml")), ids=lambda p: p.name)
def test_each_serve_config_validates(path: Path) -> None:
    from ray.serve.schema import ServeDeploySchema

    document = yaml.safe_load(path.read_text())
    schema = ServeDeploySchema.model_validate(document)
    (application,) = schema.applications
    module, _, name = application.import_path.partition(":")
    builder = getattr(importlib.import_module(module), name)
    assert builder.__annotations__["args"] in ("ServeArgs", ServeArgs)
    args = ServeArgs.model_validate(application.args)
    assert all(args.host_ongoing(m) >= 2 * args.batching_of(m).max_batch_size
                   for m in [*(args.models or ()), *args.batching, "any-model"])
    assert "admin_token" not in yaml.safe_dump(document)


@pytest.mark.parametrize(("args", "words"), [
    ({"max_batch_size": 16, "host_max_ongoing_requests": 20}, "at least twice max_batch_size"),
    ({"gateway": {"admin_token": "x" * 20}}, "never part of the Serve config"),
    ({"gateway": {"deadline": 3}}, "deadline"),
    ({"models": ["Bad Name"]}, "invalid"),
    ({"host_num_gpus": 1}, "host.device 'cuda'"),
    ({"batch_size": 3}, "batch_size"),
    ({"batching": {"big": {"max_batch_size": 64}}, "host_max_ongoing_requests": 64},
     "at least twice max_batch_size \\(64\\)"),
    ({"batching": {"Bad Name": {"max_batch_size": 4}}}, "batching"),
    ({"replica_env": {"ZHIJIAN_ADMIN_TOKEN": "x" * 20}}, "Ray Serve settings only"),
])
def test_bad_builder_arguments_are_refused_with_the_reason(args: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        ServeArgs.model_validate(args)


def test_each_model_can_have_its_own_batching() -> None:
    args = ServeArgs.model_validate({"max_batch_size": 8, "batching": {
        "big": {"max_batch_size": 64, "batch_wait_timeout_s": 0.002}}})
    assert (args.batching_of("big").max_batch_size, args.host_ongoing("big")) == (64, 128)
    assert args.batching_of("big").batch_wait_timeout_s == 0.002
    assert (args.batching_of("small").max_batch_size, args.host_ongoing("small")) == (8, 64)
