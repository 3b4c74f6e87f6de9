"""Where the embedded MLflow store lives, and how it is opened (torch-free).

The embedded default is a SQLite store ``$ZHIJIAN_HOME/mlflow.db`` (``./.zhijian`` when unset) with a
local artifact folder ``$ZHIJIAN_HOME/artifacts``; ``MLFLOW_TRACKING_URI`` (or an explicit URI) points
at a tracking server instead. The run store and the model registry both open their store here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from zhijian_core.errors import MissingDependencyError


def zhijian_home() -> Path:
    """Folder of the embedded defaults (``$ZHIJIAN_HOME``, else ``./.zhijian``)."""
    return Path(os.environ.get("ZHIJIAN_HOME", ".zhijian")).resolve()


def import_mlflow(purpose: str):
    """Import MLflow with its and alembic's logging quietened.

    Args:
        purpose: What needs MLflow, for the error message (``storing runs``).

    Raises:
        MissingDependencyError: MLflow is not installed.
    """
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependencyError(f"{purpose} needs MLflow: pip install 'zhijian[train]' "
                                     "or 'zhijian[serve]'") from exc
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


@dataclass(frozen=True)
class StoreLocation:
    """An MLflow tracking store to open."""

    tracking_uri: str
    """URI given to ``MlflowClient``."""
    artifact_location: str | None
    """Artifact root for new experiments (``None``: the server's default)."""
    local: bool
    """Whether this is the embedded SQLite store under ``$ZHIJIAN_HOME``."""


def store_location(tracking_uri: str | None = None) -> StoreLocation:
    """The store to open: ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else the embedded default.

    The embedded default's folder is created when needed.
    """
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri is not None:
        return StoreLocation(uri, None, local=False)
    home = zhijian_home()
    home.mkdir(parents=True, exist_ok=True)
    return StoreLocation(f"sqlite:///{home / 'mlflow.db'}", (home / "artifacts").as_uri(), local=True)
