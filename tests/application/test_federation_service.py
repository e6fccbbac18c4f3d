"""A provincial ledger's service in a federation: a command about another province's person is
answered 421 WRONG_LEDGER naming the province whose ledger decides it; its own are decided."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from infra.federation.ledgers import FederatedLedgers
from infra.provinces.federation_file import Federation
from tests.support.federation import EARLY, grandchild, grandparent
from tests.support.service import auth, make_server


def test_a_command_about_another_provinces_person_is_misdirected():
    ledgers = FederatedLedgers(Federation("memory", {"11": "memory://", "42": "memory://"}))
    try:
        api, tokens = make_server(ledgers.ledger("42").app, follow_views=False)
        with TestClient(api) as client:

            def post(body: dict, key: str):
                headers = auth(tokens["fund"], **{"Idempotency-Key": key})
                return client.post("/v1/commands", headers=headers, content=json.dumps(body))

            beijing = {"type": "enroll", "person": grandchild(), "insurance": "resident", "at": EARLY}
            answer = post(beijing, "e-1")
            assert answer.status_code == 421, answer.text
            assert answer.json()["code"] == "WRONG_LEDGER" and answer.json()["province"] == "11"
            assert post({**beijing, "person": grandparent(), "insurance": "employee"}, "e-2").status_code == 200
            batch = json.dumps({**beijing, "command_id": "e-3"}) + "\n"
            refused = client.post("/v1/commands:batch", headers=auth(tokens["fund"]), content=batch)
            assert refused.status_code == 421 and refused.json()["province"] == "11", refused.text
        assert ledgers.province_of(ledgers.ref(grandchild(), "p").id) is None
    finally:
        ledgers.close()
