"""The reason codes are a stable, documented contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.errors import ALL_CODES, AUTHORIZE_REJECTION_CODES, BIND_REJECTION_CODES

ISSUE_CODES = [
    "INVALID_INPUT",
    "INVALID_ID_NUMBER",
    "UNKNOWN_PERSON",
    "ALREADY_ENROLLED",
    "PERSON_NOT_ACTIVE",
    "ALREADY_BOUND",
    "NOT_BOUND",
    "MEMBER_LIMIT",
    "MONTHLY_BIND_LIMIT",
    "MEMBER_MONTHLY_BINDERS_LIMIT",
    "MEMBER_BINDERS_LIMIT",
    "RELATIONSHIP_LIMIT",
    "MEMBER_BOUND_ELSEWHERE",
    "FACE_VERIFICATION_REQUIRED",
    "REBIND_COOLDOWN",
    "RELATIONSHIP_NOT_ALLOWED",
    "AUTHORIZER_NOT_ELIGIBLE",
    "CROSS_PROVINCE_NOT_ALLOWED",
    "ALREADY_AUTHORIZED",
    "NOT_AUTHORIZED",
    "CATEGORY_NOT_ELIGIBLE",
    "PRESENTER_NOT_BOUND",
    "UNKNOWN_SETTLEMENT",
    "ALREADY_REVERSED",
    "SETTLEMENT_CONFLICT",
]


@pytest.mark.parametrize("code", ISSUE_CODES)
def test_every_issue_code_is_defined_and_documented_in_the_commands_doc(code):
    assert code in ALL_CODES
    assert code in (Path(__file__).parents[2] / "docs" / "commands.md").read_text(encoding="utf-8")


def test_precedence_lists_have_no_duplicates_and_start_with_person_not_active():
    for order in (BIND_REJECTION_CODES, AUTHORIZE_REJECTION_CODES):
        assert len(set(order)) == len(order)
        assert order[0] == "PERSON_NOT_ACTIVE"
