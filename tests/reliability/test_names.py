"""Names that could reach a file system path or the registry (path traversal, slashes, control
characters, NUL, very long, not of the grammar) are refused: with a JSON 404 on every gateway
route that takes a model name or version (admin routes with a valid token too), and with the
core's :class:`InvalidNameError` in the registry's Python API, before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.reliability.asgi import call, concrete, error_of, routes
from tests.services.gateways import TOKEN, build_app
from zhijian_core.errors import InvalidNameError

BAD_NAMES = ["..", ".", "../../etc/passwd", "a/b", "a\\b", "a\x00b", "a\nb", "a\rb", "a\x7fb",
             "a\tb", "x" * 65, "x" * 5000, "Images", "images ", " images", "-images", "_x",
             "ímages", "images\u202e", "a b", "images;rm", "%2e%2e", "a:b", "a|b"]
BAD_VERSIONS = ["0", "-1", "1.0", "1e3", "9" * 30, "latest", "production", "\uff11", "1 ", "..",
                "1/..", "\x00"]
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
VALID_BODIES = {"promote": b'{"version": 1, "alias": "production"}', "canary": b'{"percent": 10}',
                "rollback": b"{}", "infer": b'{"inputs": [{"name": "text", "shape": [1], '
                                             b'"datatype": "BYTES", "data": ["good"]}]}',
                "predict": b'{"instances": ["good"]}'}
"""A valid body per action, so that only the name can be wrong."""


def _body(template: str) -> bytes:
    return next((body for action, body in VALID_BODIES.items() if template.endswith(action)), b"")


@pytest.fixture(scope="module")
def app(reliability_bundles: dict[str, dict[int, Path]], registry: Any) -> Any:
    return build_app(reliability_bundles, {name: {"production": 1} for name in reliability_bundles},
                     registry=registry)


def test_bad_model_names_are_404_on_every_route_that_takes_one(app: Any) -> None:
    templates = [(m, p) for m, p in routes(app) if "{model}" in p]
    assert len(templates) >= 15, templates
    for method, template in templates:
        for name in BAD_NAMES:
            path = concrete(template, model=quote(name, safe=""))
            status, _, body = call(app, method, path, AUTH, _body(template))
            # explicit load and unload are 501 for any name that routes: they use none
            expected = {501, 404} if template.startswith("/v2/repository/models/") else {404}
            assert status in expected, (method, template, name, status, body[:200])
            assert error_of(body)


def test_bad_versions_are_404_on_every_route_that_takes_one(app: Any) -> None:
    templates = [(m, p) for m, p in routes(app) if "{version}" in p]
    assert len(templates) >= 4, templates
    for method, template in templates:
        for version in BAD_VERSIONS:
            path = concrete(template, version=quote(version, safe=""))
            status, _, body = call(app, method, path, AUTH, _body(template))
            assert status == 404, (method, template, version, status, body[:200])


@pytest.mark.parametrize("alias", ["../x", "a/b", "x\x00", "1", "x" * 65, "Production", ""])
def test_bad_aliases_in_an_admin_promotion_are_4xx(app: Any, alias: str) -> None:
    import json

    body = json.dumps({"version": 1, "alias": alias, "force": True, "reason": "test"}).encode()
    status, _, answer = call(app, "POST", "/admin/models/images/promote", AUTH, body)
    assert status in (400, 409), (alias, status, answer)
    assert "alias" in error_of(answer)


def _tree(root: Path) -> set[str]:
    """Every path below ``root`` but SQLite's transient journal files."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if not p.name.endswith(("-journal", "-wal", "-shm"))}


def test_the_registry_refuses_bad_names_before_touching_the_store(registry: Any,
                                                                  reliability_bundles: dict) -> None:
    from zhijian_core.registry import promote, rollback

    home = Path(registry.tracking_uri.removeprefix("sqlite:///")).parent
    before = _tree(home)
    bundle = reliability_bundles["images"][1]
    calls = [
        lambda name: registry.register(bundle, name),
        lambda name: registry.resolve(name, "production"),
        lambda name: registry.resolve("images", name),
        lambda name: registry.show(name),
        lambda name: registry.aliases(name),
        lambda name: promote(registry, name, 1, "production", actor="test"),
        lambda name: promote(registry, "images", 1, name, actor="test"),
        lambda name: promote(registry, "images", name, "production", actor="test"),
        lambda name: rollback(registry, name, actor="test"),
    ]
    for name in BAD_NAMES:
        for attempt in calls:
            with pytest.raises(InvalidNameError):
                attempt(name)
    assert _tree(home) == before
