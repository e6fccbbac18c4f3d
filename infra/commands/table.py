"""The one command table: every command's spec, and everything derived from it.

A fourteenth command is a model, a handler and a spec in its family's module (people,
bindings, mutual_aid, deductions), added to that module's SPECS, plus the domain function its
handler calls. Nothing else lists commands: the union of models the edge validates against,
the types an answer may echo, the handlers the write path calls, the needs the prefetcher
reads and the role each command needs all come from `SPECS` here.
"""

from __future__ import annotations

from typing import Annotated, Any, Union, cast

from pydantic import Field, TypeAdapter

from infra.commands import bindings, deductions, mutual_aid, people
from infra.commands.base import CommandModel, CommandSpec
from infra.roles import Principal

SPECS: tuple[CommandSpec[Any], ...] = (*people.SPECS, *bindings.SPECS, *mutual_aid.SPECS, *deductions.SPECS)
BY_TYPE: dict[str, CommandSpec[Any]] = {spec.name: spec for spec in SPECS}
COMMAND_TYPES: tuple[str, ...] = tuple(BY_TYPE)

if len(BY_TYPE) != len(SPECS):
    raise ValueError("two command specs name the same command type")

# The union of the command models, told apart by `type` (built from the specs at run time, so
# mypy sees it as Any; what it validates to is always a CommandModel).
MODELS: tuple[type[CommandModel], ...] = tuple(spec.model for spec in SPECS)
ADAPTER: TypeAdapter[Any] = TypeAdapter(cast(Any, Annotated[cast(Any, Union)[MODELS], Field(discriminator="type")]))


def spec_of(command: CommandModel) -> CommandSpec[Any]:
    return BY_TYPE[command.type]


def check_sender(sender: Principal, command: CommandModel) -> None:
    """May this key send this command? Its role, and the scope the command alone shows
    (FORBIDDEN otherwise). A command's handler checks what depends on ledger state."""
    spec_of(command).check(sender, command)
