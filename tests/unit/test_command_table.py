"""The command table: every list of commands is derived from the specs, and who may send a
command is declared on its spec only (a command without a role is refused to every key)."""

from __future__ import annotations

import typing
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ALL_CODES, InvalidInputError
from infra.commands import bindings, deductions, mutual_aid, people
from infra.commands.base import CommandModel, CommandSpec
from infra.commands.parsing import _depth, command_schema, load, parse_line
from infra.commands.table import ADAPTER, BY_TYPE, COMMAND_TYPES, MODELS, SPECS, check_sender, spec_of
from infra.roles import ROLES, WRITER_ROLES, ForbiddenError, Principal
from tests.support import DAY, id_number, line

FAMILIES = (people, bindings, mutual_aid, deductions)
STEPS = ("quota-receive", "quota-raise", "quota-lower", "quota-end", "quota-settle", "quota-undraw", "quota-return")


def test_every_list_of_commands_is_the_specs_in_one_order():
    names = [spec.name for spec in SPECS]
    assert list(COMMAND_TYPES) == names == list(BY_TYPE)
    discriminator = command_schema()["discriminator"]["propertyName"]  # "type"
    literals = [model.model_fields[discriminator].annotation for model in MODELS]
    assert [(typing.get_origin(t) is typing.Literal, typing.get_args(t)) for t in literals] == [
        (True, (n,)) for n in names
    ]
    assert [spec for family in FAMILIES for spec in family.SPECS] == list(SPECS)
    assert set(command_schema()["discriminator"]["mapping"]) == set(names)


def test_the_fourteen_commands_and_who_sends_them():
    roles = {spec.name: spec.role for spec in SPECS}
    assert roles == {
        **dict.fromkeys(("enroll", "suspend", "resume", "cancel", "expire", "transfer", "credit"), "fund"),
        **dict.fromkeys(("bind", "unbind", "authorize", "revoke", "set-quota"), "channel"),
        **dict.fromkeys(("deduct", "reverse", "record-settlement"), "institution"),
        # the steps of cross-province quotas: only the relay sends them, never a key
        **dict.fromkeys(STEPS, None),
    }
    assert {spec.role for spec in SPECS} - {None} <= set(WRITER_ROLES)


def test_a_parsed_line_is_its_specs_model():
    parsed = parse_line(line("enroll", person=id_number(), insurance="employee"))
    assert isinstance(parsed, CommandModel) and spec_of(parsed) is BY_TYPE["enroll"]
    assert isinstance(ADAPTER.validate_python({"type": "resume", "person": id_number(), "at": f"{DAY}T09:00:00Z"}),
                      BY_TYPE["resume"].model)  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_a_command_whose_spec_names_no_role_is_refused_to_every_key(role):
    nobody = replace(BY_TYPE["credit"], role=None)
    command = parse_line(line("credit", person=id_number(), amount="1.00", source="adjustment"))
    assert isinstance(command, CommandModel)
    with pytest.raises(ForbiddenError, match="cannot be sent"):
        nobody.check(Principal("k", role, channel="alipay", institution="H-1"), command)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_only_the_specs_role_may_send_a_command(spec: CommandSpec):
    for role in ROLES:
        principal = Principal("k", role)
        if role == spec.role:
            continue
        with pytest.raises(ForbiddenError):
            spec.check(principal, typing.cast(CommandModel, None))


def test_a_channel_key_sends_for_its_channel_and_an_institution_for_itself():
    bind = parse_line(line("bind", binder=id_number(seq=11), member=id_number(seq=13), relationship="child",
                           channel="wechat", verification="documents"))  # fmt: skip
    deduct = parse_line(line("deduct", settlement_id="S-1", patient=id_number(), amount="1.00", category="pharmacy",
                             institution="H-2"))  # fmt: skip
    assert isinstance(bind, CommandModel) and isinstance(deduct, CommandModel)
    check_sender(Principal("k", "channel", channel="wechat"), bind)
    with pytest.raises(ForbiddenError, match="channel"):
        check_sender(Principal("k", "channel", channel="alipay"), bind)
    check_sender(Principal("k", "institution", institution="H-2"), deduct)
    with pytest.raises(ForbiddenError, match="institution"):
        check_sender(Principal("k", "institution", institution="H-1"), deduct)


def test_forbidden_is_a_code_of_the_service_not_of_the_ledgers_decisions():
    assert "FORBIDDEN" not in ALL_CODES


def test_a_new_settlement_id_is_refused_outside_its_pattern_naming_the_field():
    answer = parse_line(line("deduct", settlement_id="S 1/2", patient=id_number(), amount="1.00",
                             category="pharmacy", institution="H-1"))  # fmt: skip
    assert isinstance(answer, dict) and answer["error"]["field"] == "settlement_id"
    assert "pattern" in answer["error"]["message"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]"\\ax:,', max_size=40), st.integers(0, 3))
def test_the_nesting_check_answers_as_the_full_bracket_walk_does(text, nesting_max):
    """`load` walks the brackets only when their count exceeds the limit; the answer is the walk's."""
    try:
        load(text, nesting_max=nesting_max)
        refused_as_deep = False
    except InvalidInputError as error:
        refused_as_deep = "nested deeper" in error.message
    assert refused_as_deep == (_depth(text) > nesting_max)
