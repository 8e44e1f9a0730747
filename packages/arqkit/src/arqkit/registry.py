"""The jobs a deployment knows, by name: what workers run and what the API may look up or replay.

The team's list is `jobs/registry.py`; the machinery receives it (it never imports the example jobs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from arqkit.job import JobDefinition

AnyJob = JobDefinition[..., Any]


class DuplicateJobName(ValueError):
    """Two jobs with one name: arq would run whichever came last for both."""


class Registry:
    def __init__(self, jobs: Iterable[AnyJob] = ()) -> None:
        self._by_name: dict[str, AnyJob] = {}
        for definition in jobs:
            self.add(definition)

    def add(self, definition: AnyJob) -> None:
        if definition.name in self._by_name:
            raise DuplicateJobName(f"a job named {definition.name!r} is registered already")
        definition.arguments.check()  # its signature must be a schema JSON can carry (arguments.py)
        self._by_name[definition.name] = definition

    def get(self, name: str) -> AnyJob | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[AnyJob]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def scheduled(self) -> list[AnyJob]:
        """The jobs with a `cron=` schedule."""
        return [definition for definition in self if definition.options.cron is not None]
