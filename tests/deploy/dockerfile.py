"""A small Dockerfile reader for the tests: instructions with their flags and arguments.

It follows the Dockerfile reference as far as the checks need: parser directives and comments,
lines continued with a backslash, the JSON (exec) and shell forms, ``--flag=value`` options, and
``ARG`` defaults for ``${VAR}`` substitution. It does not build anything.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

KEYWORDS = frozenset({
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
    "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"})


class DockerfileError(ValueError):
    """The Dockerfile does not parse (the message names the line)."""


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword, ``--flags``, the rest of the line and the line it starts on."""

    keyword: str
    flags: dict[str, str]
    rest: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form ``CMD``/``ENTRYPOINT``/``RUN``, else ``None``."""
        text = self.rest.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DockerfileError(f"line {self.line}: {self.keyword} is not a valid JSON "
                                  f"array: {exc}") from exc
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DockerfileError(f"line {self.line}: {self.keyword} must be an array of strings")
        return value


@dataclass
class Stage:
    """A build stage: its base image, optional name and instructions."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continued lines (escape ``\\``), dropping comments and blank lines."""
    lines, current, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):  # comment lines inside a continuation
            continue
        if not current:
            start = number
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append((start, current + raw))
        current = ""
    if current:
        raise DockerfileError(f"line {start}: the file ends inside a continued line")
    return lines


def _flags(rest: str) -> tuple[dict[str, str], str]:
    flags = {}
    while True:
        match = re.match(r"\s*--([a-z-]+)(?:=(\S*))?\s+", rest)
        if match is None:
            return flags, rest.strip()
        flags[match.group(1)] = match.group(2) or ""
        rest = rest[match.end():]


@dataclass
class Dockerfile:
    """A parsed Dockerfile: global ``ARG`` defaults and the build stages in order."""

    args: dict[str, str]
    stages: list[Stage]

    @classmethod
    def parse(cls, text: str) -> "Dockerfile":
        """Parse ``text``.

        Raises:
            DockerfileError: An unknown instruction, an instruction before ``FROM``, a malformed
                exec form, a duplicate stage name or a ``COPY --from`` naming no earlier stage.
        """
        args: dict[str, str] = {}
        stages: list[Stage] = []
        for line, logical in _logical_lines(text):
            keyword, _, rest = logical.strip().partition(" ")
            keyword = keyword.upper()
            if keyword not in KEYWORDS:
                raise DockerfileError(f"line {line}: unknown instruction {keyword!r}")
            flags, rest = _flags(rest)
            instruction = Instruction(keyword, flags, rest, line)
            if keyword == "FROM":
                words = rest.split()
                if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
                    raise DockerfileError(f"line {line}: FROM takes 'image [AS name]'")
                name = words[2] if len(words) == 3 else None
                if name is not None and any(s.name == name for s in stages):
                    raise DockerfileError(f"line {line}: stage name {name!r} used twice")
                stages.append(Stage(words[0], name))
            elif not stages:
                if keyword != "ARG":
                    raise DockerfileError(f"line {line}: {keyword} before the first FROM")
                key, _, default = rest.partition("=")
                args[key.strip()] = default.strip()
            else:
                if keyword in ("CMD", "ENTRYPOINT", "RUN", "HEALTHCHECK", "SHELL"):
                    instruction.exec_form() if keyword != "HEALTHCHECK" else None
                if keyword == "COPY" and "from" in flags:
                    if not any(s.name == flags["from"] for s in stages[:-1]):
                        raise DockerfileError(f"line {line}: COPY --from={flags['from']} names "
                                              "no earlier stage")
                stages[-1].instructions.append(instruction)
        if not stages:
            raise DockerfileError("no FROM instruction")
        return cls(args, stages)

    @classmethod
    def read(cls, path: Path) -> "Dockerfile":
        return cls.parse(path.read_text())

    def stage(self, name: str) -> Stage:
        (found,) = [s for s in self.stages if s.name == name]
        return found


def copy_sources(instruction: Instruction) -> list[str]:
    """The source paths of a ``COPY`` (all words but the destination)."""
    words = instruction.exec_form() or shlex.split(instruction.rest)
    if len(words) < 2:
        raise DockerfileError(f"line {instruction.line}: COPY needs a source and a destination")
    return words[:-1]


def arg_default(stage: Stage, name: str) -> str | None:
    """The default of ``ARG name`` declared in ``stage``, if any."""
    for instruction in stage.all("ARG"):
        key, _, default = instruction.rest.partition("=")
        if key.strip() == name:
            return default.strip() or None
    return None
