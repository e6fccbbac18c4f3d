"""A deduction's fingerprint: the same hex as the form every stored fingerprint has, the SHA-256
of `json.dumps(content, sort_keys=True)`, for any content (a resubmission after an upgrade must
still be recognised as the same settlement)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from domain.clock import CST
from domain.deduction import DeductRequest, fingerprint


def stored_form(patient: UUID, request: DeductRequest) -> str:
    content = {
        "settlement_id": request.settlement_id,
        "patient": str(patient),
        "amount_fen": request.amount_fen,
        "category": request.category,
        "institution": request.institution,
        "presented_by": str(request.presented_by) if request.presented_by else None,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@given(
    patient=st.uuids(),
    settlement_id=st.text(),
    amount_fen=st.integers(min_value=-(2**70), max_value=2**70),
    category=st.text(),
    institution=st.text(),
    presented_by=st.none() | st.uuids(),
)
def test_the_fingerprint_is_the_stored_form_for_any_content(
    patient, settlement_id, amount_fen, category, institution, presented_by
):
    request = DeductRequest(
        settlement_id=settlement_id,
        amount_fen=amount_fen,
        category=category,
        institution=institution,
        presented_by=presented_by,
        at=datetime(2026, 1, 1, tzinfo=CST),
    )
    assert fingerprint(patient, request) == stored_form(patient, request)


def test_a_fingerprint_stored_before_is_the_same():
    request = DeductRequest(
        settlement_id="S-1",
        amount_fen=12_345,
        category="outpatient",
        institution='医院 "A"\n',
        presented_by=None,
        at=datetime(2026, 1, 1, tzinfo=CST),
    )
    assert fingerprint(UUID(int=1), request) == "71517e042df47d7570f47cfda4130ecc847c233d9195aa4f54827910b2a0f803"
