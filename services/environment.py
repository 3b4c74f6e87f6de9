"""Checks on the Python environment that must hold before the service starts.

``onnxruntime`` (CPU) and ``onnxruntime-gpu`` both install the module ``onnxruntime``; with both
present the one installed last silently wins. The service refuses to start in such an environment,
and ``make`` runs this module after every install (``python -m services.environment``).
"""

from __future__ import annotations

import sys
from importlib import metadata

from services.errors import EnvironmentConflictError

ORT_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu")


def installed_distributions(names: tuple[str, ...]) -> list[str]:
    """Return those of ``names`` that are installed distributions, with their versions."""
    found = []
    for name in names:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


def check_single_onnxruntime() -> None:
    """Raise :class:`EnvironmentConflictError` when both ONNX Runtime distributions are installed."""
    found = installed_distributions(ORT_DISTRIBUTIONS)
    if len(found) > 1:
        raise EnvironmentConflictError(
            f"both ONNX Runtime distributions are installed ({', '.join(found)}); they install the "
            "same module and the last one wins. Install exactly one extra: "
            "`pip uninstall -y onnxruntime onnxruntime-gpu` then `pip install '.[ort-cpu]'` "
            "or `pip install '.[ort-gpu]'`."
        )


def main() -> int:
    """Command-line entry: exit 1 with the reason when the environment is inconsistent."""
    try:
        check_single_onnxruntime()
    except EnvironmentConflictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
