"""Every shipped recipe validates: the schema, each method's config and its training settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhijian_core.errors import ConfigError
from zhijian_core.experiment.config import load_recipe, parse_experiment
from zhijian_core.experiment.runner import data_config, train_config
from zhijian_core.methods.registry import create_method

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))


def test_there_are_recipes() -> None:
    assert {p.stem for p in RECIPES} >= {"demo-tweets", "tweets-minilm", "fashion-effnet"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_is_valid(path: Path) -> None:
    config = load_recipe(path)
    labels = set()
    for spec in config.methods:
        method = create_method(spec.method, spec.config)
        train_config(dict(method.default_train), spec.train, spec.display)
        data_config(config, spec, seed=0)
        reference = spec.config.get("teacher", "")
        if reference.startswith("run:"):
            assert reference[4:] in labels, f"{spec.display} refers to a later or unknown run"
        labels.add(spec.display)


def test_unknown_keys_and_repeated_labels_are_refused() -> None:
    good = {"ptm": "minilm-l6", "data": {"dataset": "airline-tweets"},
            "methods": [{"method": "ncm"}]}
    parse_experiment(good, "inline")
    with pytest.raises(ConfigError, match="colour"):
        parse_experiment({**good, "colour": "red"}, "inline")
    with pytest.raises(ConfigError, match="unique"):
        parse_experiment({**good, "methods": [{"method": "ncm"}, {"method": "ncm"}]}, "inline")
