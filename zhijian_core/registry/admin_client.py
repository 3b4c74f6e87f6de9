"""The CLI's way to the single writer: the service's admin API, when one is configured.

With a tracking server there is no lock file beside the store, so the running service's admin API is
the single writer of aliases. When ``ZHIJIAN_ADMIN_URL`` is set, ``zhijian promote`` and
``zhijian rollback`` send their request there (bearer token from ``ZHIJIAN_ADMIN_TOKEN``) instead
of writing to the registry themselves; the service runs the same promotion protocol, gates and
audit trail, and its served models follow at once. Standard library only (``urllib``).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from zhijian_core.errors import ConfigError, RegistryError
from zhijian_core.registry.promotion import Decision

URL_ENV = "ZHIJIAN_ADMIN_URL"
TOKEN_ENV = "ZHIJIAN_ADMIN_TOKEN"


class AdminAPIError(RegistryError):
    """The admin API refused a request or could not be reached.

    Attributes:
        status: The HTTP status (``None`` when the service could not be reached).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AdminClient:
    """Promotions and rollbacks through a running service's admin API."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"{URL_ENV}={url!r} is not an http(s) URL of the service")
        if not token:
            raise ConfigError(f"{URL_ENV} is set but {TOKEN_ENV} is empty: the admin API needs the "
                              "service's bearer token")
        self._base = url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self._base}/admin/{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", "")
            except (ValueError, AttributeError):
                message = ""
            raise AdminAPIError(f"the admin API at {self._base} answered {exc.code}: "
                                f"{message or exc.reason}", exc.code) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise AdminAPIError(f"the admin API at {self._base} cannot be reached: {exc}") from exc

    def promote(self, name: str, version: int, alias: str, percent: int | None = None,
                force: bool = False, reason: str = "") -> Decision:
        """``POST /admin/models/{name}/promote``; the committed decision."""
        body = {"version": version, "alias": alias, "percent": percent, "force": force,
                "reason": reason}
        answer = self._post(f"models/{urllib.parse.quote(name)}/promote", body)
        return Decision.model_validate(answer["decision"])

    def rollback(self, name: str, reason: str = "") -> Decision:
        """``POST /admin/models/{name}/rollback``; the committed decision."""
        answer = self._post(f"models/{urllib.parse.quote(name)}/rollback", {"reason": reason})
        return Decision.model_validate(answer["decision"])


def configured_client() -> AdminClient | None:
    """The admin client when ``ZHIJIAN_ADMIN_URL`` is set, else ``None`` (write locally)."""
    url = os.environ.get(URL_ENV, "").strip()
    if not url:
        return None
    return AdminClient(url, os.environ.get(TOKEN_ENV, "").strip())
