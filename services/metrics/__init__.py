"""Prometheus metrics of the service (prometheus_client, multiprocess mode) and cost accounting."""

from services.metrics.catalog import NONE, STAGES, Metrics, metrics
from services.metrics.cost import CostMeter, Resources
from services.metrics.multiprocess import (CONTENT_TYPE, MULTIPROC_ENV, exposition, mark_dead,
                                           prepare_directory, runtime_env_vars)
from services.metrics.prices import PriceTable, PriceTableError, load_prices

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "NONE", "STAGES", "CostMeter", "Metrics",
           "PriceTable", "PriceTableError", "Resources", "exposition", "load_prices", "mark_dead",
           "metrics", "prepare_directory", "runtime_env_vars"]
