"""The release gauges the gateway sets whenever its routing view changes (``zhijian_traffic_percent``,
``zhijian_alias_version``), and the order of a refresh that lets a canary be taken out without a
request being routed to it after its host dropped it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.gateway import Fleet
from services.host import ModelHost, StaticSource
from services.metrics import metrics
from services.routing import goes_to_canary
from zhijian_core.errors import RegistryError

KEYS = [f"user-{i}" for i in range(200)]


def gauges(model: str) -> dict[str, tuple[float | None, float | None]]:
    """Alias to (traffic percent, version) as exported."""
    registry = metrics().registry
    return {alias: (registry.get_sample_value("zhijian_traffic_percent",
                                              {"model": model, "alias": alias}),
                    registry.get_sample_value("zhijian_alias_version",
                                              {"model": model, "alias": alias}))
            for alias in ("production", "canary", "shadow")}


class WatchedHost:
    """A host client whose ``sync`` records where the fleet routes the keys meanwhile."""

    def __init__(self, host: ModelHost, fleet: "list[Fleet]") -> None:
        self.host, self.fleet, self.routed_during_sync = host, fleet, []

    async def sync(self) -> dict[str, int]:
        self.routed_during_sync.append({self.fleet[0].target("images", k).alias for k in KEYS})
        return await self.host.sync()

    def __getattr__(self, name: str):
        return getattr(self.host, name)


def test_the_split_and_the_versions_follow_each_refresh(versions: dict[str, dict[int, Path]]
                                                        ) -> None:
    aliases = {"images": {"production": 1, "canary": 2, "shadow": 3}}
    percents: dict[str, int | None] = {"images": 30}
    holder: list[Fleet] = []
    host = WatchedHost(ModelHost("images", StaticSource(versions, aliases)), holder)
    fleet = Fleet({"images": host}, percents.get, shadow_percent=25)
    holder.append(fleet)

    async def scenario() -> None:
        await fleet.refresh()
        assert gauges("images") == {"production": (70, 1), "canary": (30, 2), "shadow": (25, 3)}
        assert fleet.split("images") == {"production": 70, "canary": 30, "shadow": 25}
        assert {fleet.target("images", k).alias for k in KEYS} == {"production", "canary"}
        # a canary abort: the percent goes first, then the alias
        percents["images"] = None
        del aliases["images"]["canary"]
        await fleet.refresh("images")
        assert host.routed_during_sync[-1] == {"production"}  # before the host dropped it
        assert gauges("images") == {"production": (100, 1), "canary": (0, 0), "shadow": (25, 3)}
        del aliases["images"]["shadow"]
        await fleet.refresh("images")
        assert gauges("images")["shadow"] == (0, 0)
        await host.host.close()

    asyncio.run(scenario())


def test_a_registry_that_cannot_be_read_leaves_the_view_and_the_gauges(
        versions: dict[str, dict[int, Path]]) -> None:
    aliases = {"images": {"production": 2, "canary": 4}}
    state = {"down": False}

    def percent(model: str) -> int | None:
        if state["down"]:
            raise RegistryError("the registry is down")
        return 10

    host = ModelHost("images", StaticSource(versions, aliases))
    fleet = Fleet({"images": host}, percent)

    async def scenario() -> None:
        await fleet.refresh()
        assert gauges("images")["canary"] == (10, 4)
        state["down"] = True
        await fleet.refresh()
        assert fleet.errors["images"] == "the registry is down"
        assert gauges("images") == {"production": (90, 2), "canary": (10, 4), "shadow": (0, 0)}
        routed = [fleet.target("images", k).alias == "canary" for k in KEYS]
        assert routed == [goes_to_canary(k, 10) for k in KEYS]
        await host.close()

    asyncio.run(scenario())
