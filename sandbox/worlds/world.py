"""World documents: parse (YAML or JSON), validate (JSON Schema, then references and rules),
build the model, and dump the state back as a document that loads to the same state.

A world with problems is refused whole: `InvalidWorld` lists every problem by location,
e.g. ``organizations[0].appointments[3].branch_id: unknown branch 'x'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from ..domain.errors import Detail, InvalidWorld
from ..domain.model import Appointment, Organization
from ..domain.store import Store
from .build import Builder, add_appointments, collector_paused, free_webhook_id, read_webhook, webhook_endpoint
from .check import not_a_mapping, schema_problems
from .dump import dump_appointment, dump_webhook, dump_world, dump_yaml
from .parse import parse_document

# The public names of the worlds layer, from the modules that do each job: parse.py, check.py,
# build.py, dump.py.
__all__ = ["World", "add_appointments", "collector_paused", "dump_appointment", "dump_webhook", "dump_world",
           "dump_yaml", "free_webhook_id", "load_world", "load_world_file", "parse_document", "read_webhook",
           "webhook_endpoint"]


@dataclass(frozen=True)
class World:
    """A validated world, ready to serve. Immutable, so `reset` can always go back to it."""

    source: str
    clock: datetime | None
    organizations: tuple[Organization, ...]
    appointments: tuple[Appointment, ...]
    description: str | None = None
    scenario: dict[str, Any] | None = None
    # The store the loader filled while checking the rules; never served, only copied.
    loaded_store: Store | None = field(default=None, compare=False, repr=False)

    def new_store(self) -> Store:
        """A store holding this world's appointments, as loaded."""
        with collector_paused():  # a large world's copy is many objects and no cycles
            return self._pristine.copy()

    @cached_property
    def _pristine(self) -> Store:
        store = self.loaded_store if self.loaded_store is not None else Store(self.organizations, self.appointments)
        return store.as_template()


def load_world_file(path: str | Path) -> World:
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InvalidWorld(str(path), [Detail("file", exc.strerror or str(exc))]) from None
    with collector_paused():
        return load_world(parse_document(text, str(path)), str(path))


def load_world(document: Any, source: str = "<world>") -> World:
    """Validate a parsed world document and build the World, or raise InvalidWorld."""
    if not isinstance(document, dict):
        raise InvalidWorld(source, [Detail("document", not_a_mapping(document))])
    problems = schema_problems(document)
    details = [d for _, d in problems]
    if not isinstance(document, dict) or not isinstance(document.get("organizations"), list):
        raise InvalidWorld(source, details)
    # Reference and rule checks run on every part the schema accepted, so that one run
    # reports every problem it can, not only the first kind.
    builder = Builder(document, {path for path, _ in problems})
    for index, org in enumerate(document["organizations"]):
        builder.organization(index, org)
    details = list(dict.fromkeys(details + builder.problems))  # one cause, one line
    if details:
        raise InvalidWorld(source, details)
    return World(
        source=source,
        clock=builder.clock,
        organizations=tuple(builder.organizations),
        appointments=tuple(builder.appointments),
        description=document.get("description"),
        scenario=document.get("scenario"),
        loaded_store=builder.store,
    )
