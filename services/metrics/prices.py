"""The price table: dollars per device-hour for each kind of CPU and GPU.

Read once per process from the environment: ``$ZHIJIAN_PRICES`` (JSON) or ``$ZHIJIAN_PRICES_FILE``
(a YAML file), for example::

    ZHIJIAN_PRICES='{"cpu": {"default": 0.05, "c7i": 0.0446}, "gpu": {"default": 2.5}}'

Which kind a node has comes from ``$ZHIJIAN_CPU_KIND`` and ``$ZHIJIAN_GPU_KIND`` (``default`` when
unset), set per node (a Kubernetes node pool's pods, say). The built-in prices are examples only,
of the order of on-demand cloud list prices; set your own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat

from services.errors import ServiceError

PRICES_ENV = "ZHIJIAN_PRICES"
PRICES_FILE_ENV = "ZHIJIAN_PRICES_FILE"
CPU_KIND_ENV = "ZHIJIAN_CPU_KIND"
GPU_KIND_ENV = "ZHIJIAN_GPU_KIND"
DEFAULT_KIND = "default"
Device = Literal["cpu", "gpu"]


class PriceTableError(ServiceError):
    """The price table cannot be read, or lacks the kind of device this node has."""


class PriceTable(BaseModel):
    """Dollars per device-hour by device kind (strict: an unknown key is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu: dict[str, NonNegativeFloat] = Field(default_factory=lambda: {DEFAULT_KIND: 0.05})
    """Dollars per CPU-hour (one vCPU held for an hour) by CPU kind. Example default: 0.05."""
    gpu: dict[str, NonNegativeFloat] = Field(default_factory=lambda: {DEFAULT_KIND: 2.5})
    """Dollars per GPU-hour (one whole GPU held for an hour) by GPU kind. Example default: 2.5."""

    def per_hour(self, device: Device, kind: str = DEFAULT_KIND) -> float:
        """Dollars per hour of one ``device`` of ``kind``.

        Raises:
            PriceTableError: The table has no such kind.
        """
        table = self.cpu if device == "cpu" else self.gpu
        if kind not in table:
            raise PriceTableError(f"the price table has no {device} kind {kind!r} (it has "
                                  f"{sorted(table)}); add it to ${PRICES_ENV} or "
                                  f"${PRICES_FILE_ENV}, or set ${CPU_KIND_ENV}/${GPU_KIND_ENV}")
        return table[kind]


def load_prices(environ: Mapping[str, str] = os.environ) -> PriceTable:
    """The price table of ``environ`` (the built-in examples when neither variable is set).

    Raises:
        PriceTableError: Both variables are set, the file or JSON cannot be read, or the table
            is invalid (every problem listed).
    """
    text, source = environ.get(PRICES_ENV), PRICES_ENV
    file = environ.get(PRICES_FILE_ENV)
    if text and file:
        raise PriceTableError(f"set ${PRICES_ENV} or ${PRICES_FILE_ENV}, not both")
    import yaml

    try:
        if file:
            source = file
            document = yaml.safe_load(Path(file).read_text())
        elif text:
            document = json.loads(text)
        else:
            return PriceTable()
        return PriceTable.model_validate(document if document is not None else {})
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValidationError is a ValueError
        raise PriceTableError(f"the price table from {source} is not valid: {exc}") from exc


def node_kinds(environ: Mapping[str, str] = os.environ) -> dict[Device, str]:
    """The CPU and GPU kinds of this node."""
    return {"cpu": environ.get(CPU_KIND_ENV) or DEFAULT_KIND,
            "gpu": environ.get(GPU_KIND_ENV) or DEFAULT_KIND}
