"""The one grammar of model names and aliases, and of version numbers (stdlib only).

A model name or alias matches :data:`NAME_PATTERN`: 1 to 64 characters, lowercase ASCII letters,
digits, ``.``, ``_`` and ``-``, starting with a letter or a digit. So every accepted name is safe as a
single path component and as a URL path segment: no ``/``, never ``.`` or ``..``, no control
characters, no spaces. A version is a positive integer. The command line, the registry client and the
service all check names here.
"""

from __future__ import annotations

import re

from zhijian_core.errors import InvalidNameError

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Regular expression every model name and alias matches."""
MAX_NAME_LENGTH = 64
"""Longest accepted name or alias, in characters."""

_NAME = re.compile(NAME_PATTERN)
_GRAMMAR = (f"names are 1-{MAX_NAME_LENGTH} characters of a-z, 0-9, '.', '_' and '-', starting "
            "with a letter or a digit (for example 'sentiment-minilm')")


def _why(value: str) -> str:
    """Say why ``value`` breaks the grammar, the most telling reason first."""
    if value == "":
        return "it is empty"
    if ".." in value:
        return "it contains '..' (path traversal)"
    if "/" in value or "\\" in value:
        return "it contains a slash"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "it contains control characters"
    if any(c.isspace() for c in value):
        return "it contains whitespace"
    if len(value) > MAX_NAME_LENGTH:
        return f"it is {len(value)} characters long, more than {MAX_NAME_LENGTH}"
    if any(c.isupper() for c in value):
        return f"it contains uppercase letters (write '{value.lower()}')"
    if not value[0].isascii() or not value[0].isalnum():
        return f"it starts with {value[0]!r}, not a letter or a digit"
    bad = sorted({c for c in value if not _NAME.match("a" + c)})
    return f"it contains characters outside the grammar: {''.join(bad)!r}"


def _check(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidNameError(f"{kind} {value!r} is not a string; {_GRAMMAR}")
    if _NAME.fullmatch(value) is None:
        raise InvalidNameError(f"{kind} {value!r} is invalid: {_why(value)}; {_GRAMMAR}")
    return value


def check_model_name(name: object) -> str:
    """Return ``name`` if it is a valid model name.

    Raises:
        InvalidNameError: The name breaks the grammar; the message says what was given, why, and the
            grammar.
    """
    return _check("model name", name)


def check_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias (``production``, ``canary``, ``shadow``, ``poc`` ...).

    Raises:
        InvalidNameError: The alias breaks the grammar (a version number is not an alias either).
    """
    alias = _check("alias", alias)
    if alias.isdigit():
        raise InvalidNameError(f"alias {alias!r} is invalid: it is a number, which would read as a "
                               f"version; {_GRAMMAR}, not only digits")
    return alias


def check_version(version: object) -> int:
    """Return ``version`` as an ``int`` if it is a positive integer (``3`` or ``"3"``).

    Raises:
        InvalidNameError: The version is not a positive integer.
    """
    if isinstance(version, bool):
        raise InvalidNameError(f"version {version!r} is invalid: versions are positive integers (1, 2, ...)")
    if isinstance(version, int):
        number = version
    elif isinstance(version, str) and version.isascii() and version.isdigit() and len(version) <= 18:
        number = int(version)
    else:
        raise InvalidNameError(f"version {version!r} is invalid: versions are positive integers (1, 2, ...)")
    if number < 1:
        raise InvalidNameError(f"version {version!r} is invalid: versions start at 1")
    return number
