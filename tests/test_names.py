"""The one grammar of model names, aliases and versions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhijian_core.errors import ConfigError, InvalidNameError
from zhijian_core.names import NAME_PATTERN, check_alias, check_model_name, check_version


@pytest.mark.parametrize("name", ["a", "0", "sentiment-minilm", "fmnist_effnet.v2", "x" * 64, "poc"])
def test_valid_names_are_returned_unchanged(name: str) -> None:
    assert check_model_name(name) == name


@pytest.mark.parametrize(("name", "why"), [
    ("", "empty"),
    ("..", "path traversal"),
    ("a/../b", "path traversal"),
    ("a/b", "slash"),
    ("a\\b", "slash"),
    ("a\nb", "control characters"),
    ("a\x00", "control characters"),
    ("a b", "whitespace"),
    ("Model", "uppercase letters (write 'model')"),
    ("x" * 65, "65 characters long, more than 64"),
    (".hidden", "starts with '.'"),
    ("-x", "starts with '-'"),
    ("modèle", "outside the grammar"),
    ("a:b", "outside the grammar: ':'"),
])
def test_invalid_names_say_what_why_and_the_grammar(name: str, why: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_model_name(name)
    message = str(info.value)
    assert repr(name) in message
    assert why in message
    assert "a-z, 0-9" in message
    assert isinstance(info.value, ConfigError)


def test_aliases_share_the_grammar_but_are_never_numbers() -> None:
    assert check_alias("production") == "production"
    assert check_alias("team-a.poc") == "team-a.poc"
    with pytest.raises(InvalidNameError, match="is a number"):
        check_alias("3")
    with pytest.raises(InvalidNameError, match="uppercase"):
        check_alias("Production")
    with pytest.raises(InvalidNameError, match="not a string"):
        check_alias(None)


@pytest.mark.parametrize(("given", "expected"), [(1, 1), ("7", 7), (12, 12)])
def test_versions_are_positive_integers(given: object, expected: int) -> None:
    assert check_version(given) == expected


@pytest.mark.parametrize("bad", [0, -1, "0", "-1", "1.0", "v1", "", True, 1.0, None, "１"])
def test_bad_versions_are_refused(bad: object) -> None:
    with pytest.raises(InvalidNameError, match="version"):
        check_version(bad)


def _safe_component(name: str, root: Path) -> bool:
    return ("/" not in name and "\\" not in name and name not in (".", "..")
            and not any(ord(c) < 32 or ord(c) == 127 for c in name)
            and (root / name).resolve().parent == root.resolve())


@settings(max_examples=300, deadline=None)
@given(st.from_regex(NAME_PATTERN, fullmatch=True))
def test_every_name_of_the_grammar_is_accepted_and_a_safe_path_component(name: str) -> None:
    assert check_model_name(name) == name
    assert _safe_component(name, Path("/srv/models"))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ0./\\-_:. \n\x00\x7fé"), max_size=70) | st.text(max_size=70))
def test_whatever_is_accepted_is_a_safe_path_component(name: str) -> None:
    try:
        accepted = check_model_name(name)
    except InvalidNameError as exc:
        assert repr(name) in str(exc)
        return
    assert re.fullmatch(NAME_PATTERN, accepted)
    assert _safe_component(accepted, Path("/srv/models"))
