"""The platform's record of a settlement on the settlement aggregate, through the ledger's own
commands (in memory): `deduct` with `platform`, `record-settlement`, and `reverse` of a
settlement the accounts did not pay.

Goal: what the ledger keeps of a 2207 is stored with the decision (and the patient's balance
right after it), a record that is not this settlement's is refused naming the field, a record
can be kept later with a deduction sent without one, a settlement the accounts did not pay is
kept without moving money and can be reversed, and events stored before these fields existed
still load. Method: the Wuhan family of tests.support.national, state checked after each step."""

from __future__ import annotations

from typing import Any

import pytest

from domain import events as ev
from domain.masking import mask
from domain.settlement import Settlement, settlement_aggregate_id
from infra.national.platform_record import platform_record
from infra.roles import Principal
from infra.storage.mapper import decode_event
from infra.whatif.reevaluate import RECORDED, Reevaluator
from infra.writing.streams import submission_of
from infra.writing.write_path import Submission
from tests.support import Ledger, id_number, line
from tests.support.national import (
    INSTITUTION,
    PATIENT,
    RELATIVE,
    data_2207,
    line_2207,
    setlinfo,
    settlement,
    wuhan_family,
)

SETL_ID = "42010000000410043005"
AT = "2025-04-10T09:30:00+08:00"


def record(**over: Any) -> dict[str, Any]:
    """The kept record of the standard 2207 (120.00 for the accounts), with fields overridden."""
    return platform_record(settlement()).model_dump(mode="json") | over


def no_deduction_record(**over: Any) -> dict[str, Any]:
    body = line_2207(data_2207(acct_used_flag="0"), setlinfo(acct_pay="0.00", acct_mulaid_pay="0.00"))
    return platform_record(settlement(body)).model_dump(mode="json") | over


@pytest.fixture
def family(ledger: Ledger) -> Ledger:
    return wuhan_family(ledger)


def deduct(ledger: Ledger, **over: Any) -> dict:
    fields = dict(settlement_id=SETL_ID, patient=PATIENT, amount="120.00", category="hospital_self_pay",
                  institution=INSTITUTION, at=AT) | over  # fmt: skip
    return ledger.do("deduct", **{k: v for k, v in fields.items() if v is not None})


def keep(ledger: Ledger, platform: dict[str, Any], **over: Any) -> dict:
    fields = dict(settlement_id=SETL_ID, patient=PATIENT, institution=INSTITUTION, platform=platform, at=AT) | over
    return ledger.do("record-settlement", **fields)


def stored(ledger: Ledger) -> Settlement:
    return ledger.app.repository.get(settlement_aggregate_id(SETL_ID))


def test_a_deduction_keeps_its_platform_record_and_the_patients_balance_right_after(family):
    answer = deduct(family, platform=record())
    assert answer["ok"] and answer["amount_fen"] == 12000, answer
    kept = stored(family)
    assert kept.platform is not None and kept.platform.model_dump(mode="json") == record()
    assert kept.balance_after_fen == 0 and kept.deducted  # 70.00 of her own, 50.00 from her father
    assert PATIENT not in kept.platform.model_dump_json()


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"acct_used_flag": "0"}, "platform.acct_used_flag"),
        ({"psn_part_amt_fen": 11000}, "platform.psn_part_amt_fen"),
        ({"certno_masked": mask(RELATIVE)}, "platform.certno_masked"),
    ],
)
def test_a_platform_record_that_is_not_this_deductions_is_refused_naming_the_field(family, over, field):
    answer = deduct(family, platform=record(**over))
    assert answer["error"]["code"] == "INVALID_INPUT" and answer["error"]["field"] == field
    assert family.balance(PATIENT) == 7000  # nothing moved


def test_a_platform_record_with_an_unknown_or_malformed_field_is_refused_at_the_edge(family):
    assert deduct(family, platform=record(hifp_pay_fen=1))["error"]["field"] == "platform.hifp_pay_fen"
    assert deduct(family, platform=record(clr_optins="4201"))["error"]["field"] == "platform.clr_optins"


def test_a_deduction_sent_without_a_record_keeps_the_record_sent_later(family):
    assert deduct(family)["ok"]
    assert stored(family).platform is None
    attached = keep(family, record())
    assert attached["ok"] and attached["duplicate"] is False and attached["deducted"] is True
    assert stored(family).platform == platform_record(settlement())
    again = keep(family, record())
    assert again["ok"] and again["duplicate"] is True
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (0, 45000)  # the deduction unchanged


def test_a_duplicate_deduct_with_a_record_keeps_it_once(family):
    assert deduct(family)["ok"]
    assert deduct(family, platform=record())["duplicate"] is True
    assert stored(family).platform == platform_record(settlement())
    events = family.app.recorder.events_of(settlement_aggregate_id(SETL_ID))
    assert [n.topic.rsplit(":", 1)[1] for n in events] == ["SettlementOpened", "PlatformRecordAttached"]
    other = deduct(family, platform=record(clr_type="41"))
    assert other["error"]["code"] == "SETTLEMENT_CONFLICT" and other["error"]["field"] == "platform.clr_type"


@pytest.mark.parametrize(
    ("over", "platform", "field"),
    [
        ({"institution": "H42010200099"}, record(), "institution"),
        ({"patient": RELATIVE}, record(certno_masked=mask(RELATIVE)), "patient"),
        ({}, record(psn_part_amt_fen=11000), "platform.psn_part_amt_fen"),
        ({}, record(acct_used_flag="0"), "platform.acct_used_flag"),
    ],
)
def test_a_record_of_another_settlement_is_a_conflict_naming_the_field(family, over, platform, field):
    assert deduct(family)["ok"]
    answer = keep(family, platform, **over)
    assert answer["error"]["code"] == "SETTLEMENT_CONFLICT" and answer["error"]["field"] == field, answer
    assert stored(family).platform is None


def test_a_second_record_with_other_content_is_a_conflict_naming_its_first_differing_field(family):
    assert deduct(family, platform=record())["ok"]
    answer = keep(family, record(mdtrt_id="420000088058", clr_type="41"))
    assert answer["error"] == {
        "code": "SETTLEMENT_CONFLICT",
        "message": "platform.mdtrt_id: the settlement holds a record with another value",
        "field": "platform.mdtrt_id",
    }


def test_a_settlement_the_accounts_did_not_pay_is_kept_without_moving_money_and_can_be_reversed(family):
    answer = keep(family, no_deduction_record())
    assert answer["ok"] and answer["deducted"] is False and answer["amount_fen"] == 0 and answer["lines"] == []
    kept = stored(family)
    assert not kept.deducted and kept.balance_after_fen == 7000 and kept.rule_version.endswith("national-2024-12-09")
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (7000, 50000)
    assert family.do("deduct", settlement_id=SETL_ID, patient=PATIENT, amount="120.00", category="pharmacy",
                     institution=INSTITUTION, at=AT)["error"]["code"] == "SETTLEMENT_CONFLICT"  # fmt: skip
    reversed_ = family.do(
        "reverse", settlement_id=SETL_ID, reason="national platform 2208", at="2025-04-12T15:00:00+08:00"
    )
    assert reversed_["ok"] and reversed_["refunded"] == [] and reversed_["refunded_fen"] == 0
    assert stored(family).reversed and stored(family).reversed_at is not None
    again = family.do("reverse", settlement_id=SETL_ID, at="2025-04-12T16:00:00+08:00")
    assert again["error"]["code"] == "ALREADY_REVERSED"
    assert (family.balance(PATIENT), family.balance(RELATIVE)) == (7000, 50000)


def test_a_record_that_says_the_accounts_pay_is_not_kept_without_its_deduction(family):
    answer = keep(family, record())
    assert answer["error"]["code"] == "UNKNOWN_SETTLEMENT" and answer["error"]["field"] == "settlement_id"
    assert family.do("deduct", settlement_id=SETL_ID, patient=PATIENT, amount="1.00", category="pharmacy",
                     institution=INSTITUTION, at=AT)["ok"]  # fmt: skip  # the id is still free


def test_a_record_for_nobody_enrolled_is_refused(family):
    stranger = id_number("420102", "19900101", 13)
    answer = keep(family, no_deduction_record(certno_masked=mask(stranger)), patient=stranger)
    assert answer["error"]["code"] == "UNKNOWN_PERSON"


def test_an_institution_key_keeps_records_for_its_own_institution_only(family):
    text = line("record-settlement", at=AT, settlement_id=SETL_ID, patient=PATIENT, institution=INSTITUTION,
                platform=no_deduction_record(), command_id=f"{SETL_ID}:2207")  # fmt: skip
    parsed = submission_of(text).parsed
    other = Principal("k", "institution", institution="H42010200099")
    answer = family.writer.write([Submission(parsed, other)])[0]
    assert answer["error"]["code"] == "FORBIDDEN"
    mine = Principal("k", "institution", institution=INSTITUTION)
    assert family.writer.write([Submission(parsed, mine)])[0]["ok"]


def test_settlement_events_stored_before_the_platform_fields_load_with_none():
    state = {
        "originator_topic": "domain.settlement:Settlement",
        "timestamp": "2025-03-10T09:00:00+08:00",
        "settlement_id": "S-OLD",
        "patient": "5f0e8c51-8d1a-5e0a-9b7e-2f4d6c8a1b3e",
        "patient_masked": "110105********0011",
        "fingerprint": "f",
        "amount_fen": 100,
        "lines": [],
        "out_of_pocket_fen": 100,
        "rule_version": "national-2024-12-09",
    }
    event = decode_event("domain.events:SettlementOpened", state, settlement_aggregate_id("S-OLD"), 1)
    assert isinstance(event, ev.SettlementOpened) and event.platform is None and event.balance_after_fen is None
    opened = event.mutate(None)
    assert opened.deducted and opened.platform is None and opened.balance_after_fen is None


def test_reevaluation_scans_past_the_settlement_events_of_platform_records(family):
    keep(family, no_deduction_record(), settlement_id="S-NOTHING")
    assert deduct(family)["ok"] and keep(family, record())["ok"]
    report = Reevaluator(family.app, RECORDED, family.app.catalogue).run()
    assert report.changed == [] and report.decisions == 2  # the authorization and the deduction
