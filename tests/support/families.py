"""Families for the audit tests, told through the ledger's own commands."""

from __future__ import annotations

from datetime import datetime

from domain import events as ev
from domain.deduction import DeductRequest, fingerprint
from domain.masking import mask
from domain.settlement import Settlement
from tests.support import Ledger, id_number

T = "2025-03-{day:02d}T{hour:02d}:00:00+08:00"


def at(day: int, hour: int = 9) -> str:
    return T.format(day=day, hour=hour)


def masked(number: str) -> str:
    return mask(number)


def national_family(ledger: Ledger) -> dict[str, str]:
    """Beijing: a child with three authorizers; two with equal balances authorized in order."""
    f = {
        "father": id_number("110105", "19800101", 11),
        "mother": id_number("110105", "19820303", 24),
        "grandma": id_number("110105", "19550505", 42),
        "child": id_number("110105", "20150101", 36),
    }
    ledger.enroll(f["father"], balance="300.00", at=at(1))
    ledger.enroll(f["mother"], balance="300.00", at=at(1))
    ledger.enroll(f["grandma"], balance="500.00", at=at(1))
    ledger.enroll(f["child"], insurance="resident", at=at(1))
    ledger.ok("credit", person=f["child"], amount="20.00", source="adjustment", at=at(1))
    ledger.ok("authorize", authorizer=f["mother"], beneficiary=f["child"], relationship="child", at=at(2))
    ledger.ok("authorize", authorizer=f["father"], beneficiary=f["child"], relationship="child", at=at(3))
    ledger.ok("authorize", authorizer=f["grandma"], beneficiary=f["child"], relationship="grandchild", at=at(4))
    return f


def regional_family(ledger: Ledger, region: str) -> dict[str, str]:
    """A patient with two authorizers in `region`; the richer one authorized first."""
    f = {
        "rich": id_number(region, "19700101", 11),
        "poor": id_number(region, "19720202", 22),
        "patient": id_number(region, "19950909", 33),
    }
    ledger.enroll(f["rich"], balance="2000.00", at=at(1))
    ledger.enroll(f["poor"], balance="1500.00", at=at(1))
    ledger.enroll(f["patient"], at=at(1))
    ledger.ok("authorize", authorizer=f["rich"], beneficiary=f["patient"], relationship="child", at=at(2))
    ledger.ok("authorize", authorizer=f["poor"], beneficiary=f["patient"], relationship="child", at=at(3))
    return f


def deduct(ledger: Ledger, patient: str, amount: str, settlement_id: str, day: int = 10, **fields) -> dict:
    return ledger.ok(
        "deduct",
        settlement_id=settlement_id,
        patient=patient,
        amount=amount,
        category=fields.pop("category", "pharmacy"),
        institution=fields.pop("institution", "H-1"),
        at=at(day),
        **fields,
    )


def record_wrong_split(ledger: Ledger) -> dict[str, str]:
    """Write settlement S-BAD through the app's own event store with a split that is plausible
    (within balances, sums to the amount) but not what the rules give: mother before grandma."""
    f = national_family(ledger)
    app = ledger.app
    patient, mother, grandma = (ledger.person(f[k]) for k in ("child", "mother", "grandma"))
    when = datetime.fromisoformat(at(10))
    request = DeductRequest("S-BAD", 80_000, "pharmacy", "H-1", None, when)
    lines = (
        ev.PaymentLine(person=patient.id, masked=patient.masked, amount_fen=2_000),
        ev.PaymentLine(person=mother.id, masked=mother.masked, amount_fen=30_000),
        ev.PaymentLine(person=grandma.id, masked=grandma.masked, amount_fen=48_000),
    )
    patient.record(
        ev.DeductionSettled,
        settlement_id="S-BAD",
        amount_fen=80_000,
        category="pharmacy",
        institution="H-1",
        presented_by=None,
        lines=lines,
        out_of_pocket_fen=0,
        fingerprint=fingerprint(patient.id, request),
        rule_version="national-2024-12-09",
        timestamp=when,
    )
    for payer, line in ((mother, lines[1]), (grandma, lines[2])):
        payer.record(
            ev.AidDebited,
            settlement_id="S-BAD",
            patient=patient.id,
            patient_masked=patient.masked,
            amount_fen=line.amount_fen,
            rule_version="national-2024-12-09",
            timestamp=when,
        )
    settlement = Settlement.open(patient.pending_events[-1], patient.masked)
    app.save(patient, settlement, mother, grandma)
    return f


def compliance_story(ledger: Ledger) -> dict[str, str]:
    """Both families through March and early April, for the compliance report and its renderings."""
    f = national_family(ledger)
    h = regional_family(ledger, "420102")
    kid = id_number("110105", "20180808", 62)
    ledger.enroll(kid, insurance="resident", at=at(1))
    bind = dict(relationship="child", verification="documents")
    ledger.ok("bind", binder=f["father"], member=f["child"], channel="alipay", at=at(5), **bind)
    ledger.ok("bind", binder=f["mother"], member=f["child"], channel="wechat", at=at(5, 10), **bind)
    ledger.ok("bind", binder=f["father"], member=kid, channel="alipay", at=at(6), **bind)
    ledger.ok(
        "bind",
        binder=h["rich"],
        member=h["patient"],
        channel="nhsa_app",
        relationship="child",
        verification="face",
        at=at(6),
    )
    ledger.refused(
        "bind",
        "FACE_VERIFICATION_REQUIRED",
        binder=f["grandma"],
        member=f["father"],
        channel="counter",
        relationship="child",
        verification="documents",
        at=at(7),
    )
    deduct(ledger, f["child"], "800.00", "S-1", day=10)
    deduct(ledger, f["child"], "5.00", "S-2", day=11, category="hospital_self_pay")
    deduct(ledger, h["patient"], "1600.00", "S-3", day=12)
    ledger.ok("reverse", settlement_id="S-2", reason="duplicate", at=at(14))
    ledger.ok("unbind", binder=f["father"], member=kid, reason="binder_request", at=at(20))
    ledger.ok("unbind", binder=f["mother"], member=f["child"], reason="member_request", at=at(21))
    # 2025-03-31T17:00Z is 2025-04-01 01:00 in UTC+8: April, not March.
    ledger.ok("bind", binder=f["grandma"], member=kid, channel="bank_app", at="2025-03-31T17:00:00Z", **bind)
    deduct(ledger, h["patient"], "10.00", "S-4", day=31)  # 2025-03-31 09:00 +08:00: March
    return f
