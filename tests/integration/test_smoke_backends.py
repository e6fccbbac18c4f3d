from tests.support import id_number


def test_deduction_round_trip_on_every_backend(any_backend_ledger):
    ledger = any_backend_ledger
    parent = ledger.enroll(id_number(seq=11), balance="100.00")
    child = ledger.enroll(id_number(birth="20150101", seq=22), insurance="resident")
    ledger.ok("authorize", authorizer=parent, beneficiary=child, relationship="child")
    result = ledger.ok(
        "deduct", settlement_id="S-1", patient=child, amount="30.00", category="pharmacy", institution="P1"
    )
    assert result["lines"] == [{"person": parent[:6] + "********" + parent[-4:], "amount_fen": 3000}]
    assert ledger.balance(parent) == 7000
