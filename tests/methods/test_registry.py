"""The method registry: built-ins registered with their metadata, strict names and configs."""

from __future__ import annotations

import re

import pytest
from torch import nn

from zhijian_core.errors import ConfigError, MethodError
from zhijian_core.methods import registry
from zhijian_core.methods.base import Family, MethodConfig, MethodContext, ReuseMethod
from zhijian_core.methods.registry import (BUILTIN_METHODS, available_methods, create_method,
                                           get_method_class, register)
from zhijian_core.model import ArchitectureConfig
from zhijian_core.train.config import TrainConfig

REQUIRED = {"kd": {"teacher": "run:teacher"}}
REQUIRED.update({name: {"teacher": "run:teacher"} for name in ("fitnet", "rkd", "refilled")})
REQUIRED.update({name: {"ingredients": ["run:a", "run:b"]}
                 for name in ("logit_ensemble", "soup", "task_arithmetic", "ties", "fisher")})
REQUIRED["wise_ft"] = {"fine_tuned": "run:a"}


@pytest.mark.parametrize("name", BUILTIN_METHODS)
def test_every_builtin_is_registered_with_its_metadata(name: str) -> None:
    cls = get_method_class(name)
    assert cls.name == name
    assert cls.__module__ == f"zhijian_core.methods.{name}.method"
    assert isinstance(cls.family, Family)
    assert re.search(r'"[^"]+", .*(19|20)\d\d', cls.paper), 'cite: Authors, "Title", Venue Year'
    assert "Paper:" in (cls.__doc__ or "")
    assert issubclass(cls.config_class, MethodConfig)
    undocumented = [f for f, info in cls.config_class.model_fields.items() if not info.description]
    assert undocumented == []
    TrainConfig(**cls.default_train)  # only keys the trainer knows, with valid values
    assert isinstance(create_method(name, REQUIRED.get(name)), cls)


def test_available_methods_lists_every_builtin_by_family() -> None:
    methods = available_methods()
    assert set(BUILTIN_METHODS) <= set(methods)
    families = [cls.family.value for cls in methods.values()]
    assert families == sorted(families)


class _FakeConfig(MethodConfig):
    """No settings."""


def _fake_class(name: str) -> type[ReuseMethod]:
    class Fake(ReuseMethod):
        """A fake method."""

        family = Family.MERGER
        paper = "none"
        config_class = _FakeConfig

        def build(self, ctx: MethodContext) -> nn.Module:
            raise AssertionError

        def finalize(self, model: nn.Module) -> nn.Module:
            raise AssertionError

        def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
            raise AssertionError

    Fake.name = name
    return Fake


def test_a_second_class_under_a_registered_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(available_methods()))
    with pytest.raises(MethodError, match="'lora' is already registered by "
                                          "zhijian_core.methods.lora.method.Lora"):
        register(_fake_class("lora"))
    fake = _fake_class("fake_method")
    assert register(fake) is fake
    assert register(fake) is fake  # re-registering the same class (a re-import) is harmless
    assert get_method_class("fake_method") is fake


def test_unknown_name_lists_the_known_ones_and_suggests_the_closest() -> None:
    with pytest.raises(MethodError) as info:
        create_method("linear_prob")
    message = str(info.value)
    assert "unknown method 'linear_prob'" in message
    assert "Did you mean 'linear_probe'?" in message
    assert all(name in message for name in BUILTIN_METHODS)


def test_bad_config_reports_every_problem_and_the_accepted_fields() -> None:
    with pytest.raises(ConfigError) as info:
        create_method("lora", {"r": 0, "dropout": 1.5, "rank": 4})
    message = str(info.value)
    for part in ("invalid config for method 'lora'", "r: ", "dropout: ", "rank: ",
                 "Accepted fields: r, alpha, dropout, target_modules, train_head"):
        assert part in message
    assert isinstance(info.value.__cause__, Exception)


def test_a_missing_required_field_is_reported() -> None:
    with pytest.raises(ConfigError, match="teacher: Field required"):
        create_method("kd", {})


def test_configs_are_frozen_and_take_defaults() -> None:
    method = create_method("lora", {"target_modules": ["query"]})
    assert (method.config.r, method.config.alpha, method.config.target_modules) == (
        8, 16.0, ("query",))
    with pytest.raises(Exception, match="frozen"):
        method.config.r = 4  # type: ignore[misc]


def test_a_method_refuses_another_methods_config() -> None:
    with pytest.raises(TypeError, match="lora takes a LoraMethodConfig"):
        get_method_class("lora")(get_method_class("ncm").config_class())
