"""The model registry client: bundles as versions of MLflow registered models (torch-free).

The embedded default is the SQLite store and local artifact folder under ``$ZHIJIAN_HOME``;
``MLFLOW_TRACKING_URI`` (or ``tracking_uri``) points at a tracking server. A bundle is logged as the
artifacts of a run of the ``zhijian-bundles`` experiment and registered as a model version whose source
is that folder; its digests are checked before logging and again, on the stored copy, right before the
version is created. A failure at any point (``ENOSPC`` included) leaves nothing registered.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, NamedTuple
from urllib.parse import urlparse
from urllib.request import url2pathname

from zhijian_core.bundle.io import MANIFEST, sha256_file, verify_bundle
from zhijian_core.bundle.manifest import Manifest
from zhijian_core.errors import (AliasNotFoundError, BundleIntegrityError, ModelNotFoundError,
                                 RegistryError, VersionNotFoundError, ZhijianError)
from zhijian_core.mlflow_store import import_mlflow, store_location, zhijian_home
from zhijian_core.names import check_alias, check_model_name, check_version
from zhijian_core.registry.lock import WriterLock
from zhijian_core.registry.tags import CANARY_PERCENT, MANIFEST_SHA256, manifest_tags

BUNDLES_EXPERIMENT = "zhijian-bundles"
"""Experiment whose runs hold the registered bundles as artifacts."""
BUNDLE_ARTIFACT = "bundle"
"""Artifact folder of a bundle run."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered version."""

    version: int
    created_at: str
    """ISO 8601 time of registration (UTC)."""
    aliases: list[str]
    """Aliases pointing at this version."""
    source: str
    """Artifact URI of the bundle."""
    tags: dict[str, str]
    """The manifest's lineage and evidence as ``zhijian.`` tags."""


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its versions, aliases and canary percent."""

    name: str
    aliases: dict[str, int]
    """Alias to version."""
    canary_percent: int | None
    """Traffic percent of the ``canary`` alias (registered-model tag ``zhijian.canary_percent``)."""
    tags: dict[str, str]
    """Registered-model tags."""
    versions: list[VersionInfo] = field(default_factory=list)
    """Versions, oldest first (empty in listings)."""


class ResolvedBundle(NamedTuple):
    """A version resolved to a verified local bundle folder."""

    version: int
    path: Path


def _iso(millis: int | None) -> str:
    if not millis:
        return ""
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).isoformat(timespec="seconds")


def _percent(tags: dict[str, str]) -> int | None:
    value = tags.get(CANARY_PERCENT)
    return int(value) if value is not None and value.isdigit() else None


class Registry:
    """The MLflow Model Registry holding ZhiJian bundles.

    Args:
        tracking_uri: Tracking server or store URI; ``None`` means ``$MLFLOW_TRACKING_URI`` or the
            embedded SQLite store under ``$ZHIJIAN_HOME``.
        lock_timeout_s: Longest wait for the writer lock.
    """

    def __init__(self, tracking_uri: str | None = None, lock_timeout_s: float = 30.0) -> None:
        self._mlflow = import_mlflow("the model registry")
        location = store_location(tracking_uri)
        self.tracking_uri = location.tracking_uri
        self.local = location.local
        self._artifact_location = location.artifact_location
        self.lock_path = zhijian_home() / "registry.lock"
        self.lock_timeout_s = lock_timeout_s
        self._experiments: dict[str, str] = {}
        try:
            self.client = self._mlflow.MlflowClient(tracking_uri=self.tracking_uri,
                                                    registry_uri=self.tracking_uri)
        except Exception as exc:  # MLflow raises many types for an unreachable or broken store
            raise RegistryError(f"cannot open the model registry at {self.tracking_uri}: {exc}") from exc

    # ---- plumbing shared with promotion and audit -------------------------------------------
    def writer_lock(self) -> WriterLock:
        """A new (not yet taken) writer lock of this registry."""
        return WriterLock(self.lock_path, self.lock_timeout_s)

    def experiment_id(self, name: str) -> str:
        """Id of experiment ``name``, created on first use."""
        if name not in self._experiments:
            try:
                found = self.client.get_experiment_by_name(name)
                self._experiments[name] = (found.experiment_id if found is not None else
                                           self.client.create_experiment(name, self._artifact_location))
            except Exception as exc:
                raise RegistryError(f"cannot open experiment '{name}' at {self.tracking_uri}: {exc}") from exc
        return self._experiments[name]

    def _model(self, name: str):
        from mlflow.exceptions import MlflowException

        name = check_model_name(name)
        try:
            return self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise ModelNotFoundError(f"no registered model '{name}' in {self.tracking_uri}; "
                                         "'zhijian registry list' shows the registered models") from exc
            raise RegistryError(f"cannot read model '{name}': {exc}") from exc
        except Exception as exc:
            raise RegistryError(f"cannot read model '{name}' at {self.tracking_uri}: {exc}") from exc

    def exists(self, name: str) -> bool:
        """Whether a registered model ``name`` exists."""
        try:
            self._model(name)
        except ModelNotFoundError:
            return False
        return True

    def aliases(self, name: str) -> dict[str, int]:
        """Alias to version of model ``name``."""
        return {alias: int(v) for alias, v in self._model(name).aliases.items()}

    def alias_version(self, name: str, alias: str) -> int | None:
        """Version alias ``alias`` of model ``name`` points at, ``None`` when unset."""
        return self.aliases(name).get(check_alias(alias))

    def model_tags(self, name: str) -> dict[str, str]:
        """Registered-model tags of ``name``."""
        return dict(self._model(name).tags)

    def version_tags(self, name: str, version: int) -> dict[str, str]:
        """Tags of version ``version`` of ``name``."""
        return dict(self._version(name, version).tags)

    def canary_percent(self, name: str) -> int | None:
        """Traffic percent of the canary alias of ``name`` (``None``: unset)."""
        return _percent(self.model_tags(name))

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` (the commit point of a promotion)."""
        self.client.set_registered_model_alias(name, check_alias(alias), str(check_version(version)))

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` of ``name`` (nothing happens when it is unset)."""
        if check_alias(alias) in self.aliases(name):
            self.client.delete_registered_model_alias(name, alias)

    def set_model_tag(self, name: str, key: str, value: str | None) -> None:
        """Set (or with ``None`` delete) a registered-model tag."""
        if value is None:
            if key in self.model_tags(name):
                self.client.delete_registered_model_tag(name, key)
        else:
            self.client.set_registered_model_tag(name, key, value)

    def _version(self, name: str, version: int):
        from mlflow.exceptions import MlflowException

        self._model(name)
        version = check_version(version)
        try:
            return self.client.get_model_version(name, str(version))
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise VersionNotFoundError(f"model '{name}' has no version {version}; 'zhijian registry "
                                           f"show {name}' lists its versions") from exc
            raise RegistryError(f"cannot read version {version} of '{name}': {exc}") from exc

    # ---- register ---------------------------------------------------------------------------
    def register(self, bundle_dir: Path, name: str) -> int:
        """Register the bundle in ``bundle_dir`` as a new version of model ``name``; return the version.

        Raises:
            InvalidNameError: ``name`` breaks the names grammar.
            BundleError: The folder is not a bundle, or a file does not match its digest (named).
            RegistryError: The store failed; nothing was registered.
        """
        name = check_model_name(name)
        bundle_dir = Path(bundle_dir)
        manifest = verify_bundle(bundle_dir)
        manifest_sha = sha256_file(bundle_dir / MANIFEST)
        with self.writer_lock():
            done: dict[str, object] = {}
            try:
                return self._register(bundle_dir, name, manifest, manifest_sha, done)
            except BaseException as exc:
                self._undo_register(name, done)
                if isinstance(exc, ZhijianError) or not isinstance(exc, Exception):
                    raise
                raise RegistryError(f"could not register {bundle_dir} as '{name}': {exc}; "
                                    "nothing was registered") from exc

    def _register(self, bundle_dir: Path, name: str, manifest: Manifest, manifest_sha: str,
                  done: dict[str, object]) -> int:
        experiment = self.experiment_id(BUNDLES_EXPERIMENT)
        run = self.client.create_run(experiment, run_name=name,
                                     tags={"zhijian.model": name, "zhijian.kind": "bundle"})
        done["run"] = run
        self.client.log_artifacts(run.info.run_id, str(bundle_dir), BUNDLE_ARTIFACT)
        source = f"{run.info.artifact_uri.rstrip('/')}/{BUNDLE_ARTIFACT}"
        with tempfile.TemporaryDirectory(prefix="zhijian-register-") as tmp:
            stored = self._fetch(source, Path(tmp))
            verify_bundle(stored)
            if sha256_file(stored / MANIFEST) != manifest_sha:
                raise BundleIntegrityError(f"the stored copy of {bundle_dir}: file '{MANIFEST}' differs "
                                           "from the one logged; nothing was registered")
        if not self.exists(name):
            self.client.create_registered_model(name, tags={"zhijian.kind": "bundle-model"})
            done["model"] = True
        tags = {**manifest_tags(manifest), MANIFEST_SHA256: manifest_sha}
        created = self.client.create_model_version(name, source, run_id=run.info.run_id, tags=tags)
        done["version"] = created.version
        self.client.set_terminated(run.info.run_id, "FINISHED")
        return int(created.version)

    def _undo_register(self, name: str, done: dict[str, object]) -> None:
        """Best-effort removal of what a failed registration created."""
        steps = []
        if "version" in done:
            steps.append(lambda: self.client.delete_model_version(name, str(done["version"])))
        if done.get("model"):
            steps.append(lambda: self.client.delete_registered_model(name))
        run = done.get("run")
        if run is not None:
            steps.append(lambda: self.client.delete_run(run.info.run_id))
            local = self._local_path(run.info.artifact_uri)
            if local is not None:
                steps.append(lambda: shutil.rmtree(local, ignore_errors=True))
                if local.parent.name == run.info.run_id:  # <root>/<run id>/artifacts
                    steps.append(lambda: local.parent.rmdir())
        for step in steps:
            try:
                step()
            except Exception:  # the original error is what the caller needs to see
                pass

    # ---- read -------------------------------------------------------------------------------
    def list_models(self) -> list[ModelInfo]:
        """Every registered model with its aliases and canary percent (versions left out)."""
        try:
            models = _all_pages(lambda token: self.client.search_registered_models(
                max_results=200, page_token=token))
        except Exception as exc:
            raise RegistryError(f"cannot list models at {self.tracking_uri}: {exc}") from exc
        return [ModelInfo(m.name, {a: int(v) for a, v in m.aliases.items()}, _percent(dict(m.tags)),
                          dict(m.tags)) for m in sorted(models, key=lambda m: m.name)]

    def show(self, name: str) -> ModelInfo:
        """Model ``name`` with its versions (oldest first), aliases, canary percent and tags."""
        model = self._model(name)
        aliases = {a: int(v) for a, v in model.aliases.items()}
        try:
            versions = _all_pages(lambda token: self.client.search_model_versions(
                f"name = '{model.name}'", max_results=200, page_token=token))
        except Exception as exc:
            raise RegistryError(f"cannot list the versions of '{name}': {exc}") from exc
        infos = [VersionInfo(int(v.version), _iso(v.creation_timestamp),
                             sorted(a for a, n in aliases.items() if n == int(v.version)), v.source,
                             dict(v.tags)) for v in versions]
        return ModelInfo(model.name, aliases, _percent(dict(model.tags)), dict(model.tags),
                         sorted(infos, key=lambda v: v.version))

    def resolve(self, name: str, alias_or_version: str | int) -> ResolvedBundle:
        """The version ``alias_or_version`` (an alias, or a version number) names, and its bundle
        as a local folder whose digests were verified.

        Raises:
            InvalidNameError: A bad name, alias or version.
            ModelNotFoundError, AliasNotFoundError, VersionNotFoundError: Nothing by that name.
            BundleIntegrityError: A bundle file differs from its digest (the message names it).
        """
        version, path, _ = self.resolve_verified(name, alias_or_version)
        return ResolvedBundle(version, path)

    def resolve_verified(self, name: str, alias_or_version: str | int) -> tuple[int, Path, Manifest]:
        """Like :meth:`resolve`, also returning the verified manifest."""
        name = check_model_name(name)
        if isinstance(alias_or_version, int) or str(alias_or_version).isdigit():
            version = check_version(alias_or_version)
        else:
            alias = check_alias(alias_or_version)
            aliases = self.aliases(name)
            if alias not in aliases:
                known = ", ".join(f"{a} -> {v}" for a, v in sorted(aliases.items())) or "none"
                raise AliasNotFoundError(f"model '{name}' has no alias '{alias}' (its aliases: {known}); "
                                         f"'zhijian promote {name} VERSION --to {alias}' sets it")
            version = aliases[alias]
        found = self._version(name, version)
        path = self._local_path(found.source)
        if path is None:
            path = self._cached(name, version, found.source)
        manifest = verify_bundle(path)
        expected = found.tags.get(MANIFEST_SHA256)
        if expected is not None and sha256_file(path / MANIFEST) != expected:
            raise BundleIntegrityError(f"bundle {path}: file '{MANIFEST}' does not match the SHA-256 "
                                       f"registered with version {version} of '{name}'")
        return version, path, manifest

    # ---- artifacts --------------------------------------------------------------------------
    @staticmethod
    def _local_path(uri: str) -> Path | None:
        parsed = urlparse(uri)
        if parsed.scheme == "file":
            return Path(url2pathname(parsed.path))
        if parsed.scheme == "" and uri.startswith("/"):
            return Path(uri)
        return None

    def _fetch(self, source: str, into: Path) -> Path:
        local = self._local_path(source)
        if local is not None:
            return local
        return Path(self._mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(into), tracking_uri=self.tracking_uri))

    def _cached(self, name: str, version: int, source: str) -> Path:
        """A bundle of a remote store, downloaded once into ``$ZHIJIAN_HOME/cache``."""
        target = zhijian_home() / "cache" / name / str(version)
        if target.exists():
            try:
                verify_bundle(target)
                return target
            except ZhijianError:
                shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
        try:
            fetched = self._fetch(source, tmp)
            fetched.rename(target)
        except Exception as exc:
            raise RegistryError(f"cannot download version {version} of '{name}' from {source}: "
                                f"{exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target


def _all_pages(search: Callable[[str | None], Any]) -> list:
    """Every item of a paged MLflow search; ``search(token)`` returns one page (a PagedList)."""
    items, token = [], None
    while True:
        page = search(token)
        items.extend(page)
        token = page.token
        if not token:
            return items
