"""POST /v1/national/{infno} through FastAPI's TestClient on the in-memory store: the platform's
envelope in and out, institution keys scoped to their `fixmedins_code`, refusals as `infcode`
-1 with the ledger's code in `err_msg` (HTTP 200), no key a 401 problem, and the OpenAPI
document describing the route.

Goal: an institution's HIS can speak the platform's interfaces to the ledger and read the
ledger's decision, its discrepancies with the record, a reversal and a statement's result."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.errors import StorageError
from infra.commands.parsing import LINE_BYTES_MAX
from infra.national.records import AnswerEnvelope
from tests.support import Ledger
from tests.support.national import (
    INSTITUTION,
    PATIENT,
    RELATIVE,
    data_2207,
    data_3201,
    envelope,
    line_2207,
    line_2208,
    setlinfo,
    wuhan_family,
)
from tests.support.service import auth, make_server


@pytest.fixture
def served(app):
    ledger = wuhan_family(Ledger(app))
    api, tokens = make_server(app, follow_views=False)
    tokens["hospital"] = api.state.service.ledger.keys.create_key("institution", institution=INSTITUTION)["token"]
    with TestClient(api) as client:
        yield client, tokens, ledger


def post(client: TestClient, token: str, infno: str, body: Any) -> Any:
    content = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(f"/v1/national/{infno}", content=content, headers=auth(token))


def test_a_2207_is_answered_with_the_ledgers_setlinfo_and_the_discrepancies(served):
    client, tokens, ledger = served
    claims = setlinfo(acct_mulaid_pay="40.00", psn_cash_pay="10.00")
    answer = post(client, tokens["hospital"], "2207", line_2207(info=claims))
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["infcode"] == 0 and body["err_msg"] == "" and len(body["inf_refmsgid"]) == 26
    assert body["output"]["setlinfo"] == {**setlinfo(), "certno": PATIENT[:6] + "********" + PATIENT[-4:]}
    assert body["output"]["discrepancies"] == [
        {"field": "acct_mulaid_pay", "ledger": "50.00", "platform": "40.00"},
        {"field": "psn_cash_pay", "ledger": "0.00", "platform": "10.00"},
    ]
    assert PATIENT not in answer.text
    assert ledger.balance(RELATIVE) == 45000  # the ledger's split stands


def test_a_2208_reverses_and_answers_the_settlement_marked_reversed(served):
    client, tokens, ledger = served
    post(client, tokens["hospital"], "2207", line_2207())
    body = post(client, tokens["hospital"], "2208", line_2208()).json()
    assert body["infcode"] == 0 and body["output"]["setlinfo"]["refd_setl_flag"] == "1"
    assert (ledger.balance(PATIENT), ledger.balance(RELATIVE)) == (7000, 50000)
    again = post(client, tokens["hospital"], "2208", line_2208()).json()
    assert again["infcode"] == 0  # a retry of the same 2208 is its duplicate


def test_a_3201_is_answered_with_the_statements_result(served):
    client, tokens, _ = served
    post(client, tokens["hospital"], "2207", line_2207())
    balanced = post(client, tokens["hospital"], "3201", envelope("3201", data_3201())).json()
    assert balanced["output"] == {"stmtinfo": {"stmt_rslt": "0", "stmt_rslt_dscr": "balanced"}}
    off = post(client, tokens["hospital"], "3201", envelope("3201", data_3201(acct_pay="60.00"))).json()
    assert off["infcode"] == 0 and off["output"]["stmtinfo"] == {
        "stmt_rslt": "1",
        "stmt_rslt_dscr": "not balanced: acct_pay: ledger 70.00, statement 60.00",
    }


@pytest.mark.parametrize(
    ("token", "infno", "body", "code", "in_message"),
    [
        ("institution", "2207", line_2207(), "FORBIDDEN", "H-1"),  # another institution's key
        ("hospital", "2208", line_2207(), "INVALID_INPUT", "infno"),
        ("hospital", "2207", line_2207(info=setlinfo(acct_pay="70.001")), "INVALID_INPUT", "output.setlinfo.acct_pay"),
        ("hospital", "2207", line_2207(data=data_2207(med_type="4 1")), "INVALID_INPUT", "input.data.med_type"),
        ("hospital", "2207", "x" * (LINE_BYTES_MAX + 1), "INVALID_INPUT", "longer than"),
        ("hospital", "2207", b"\xff{}", "INVALID_INPUT", "UTF-8"),
        ("hospital", "2208", line_2208(), "UNKNOWN_SETTLEMENT", "input.data.setl_id"),
    ],
)
def test_every_refusal_is_an_envelope_with_the_ledgers_code(served, token, infno, body, code, in_message):
    client, tokens, ledger = served
    answer = post(client, tokens[token], infno, body)
    assert answer.status_code == 200
    refusal = answer.json()
    assert refusal["infcode"] == -1 and refusal["output"] == {}
    assert refusal["err_msg"].startswith(f"{code}: ") and in_message in refusal["err_msg"], refusal
    assert PATIENT not in answer.text
    assert ledger.balance(PATIENT) == 7000


def test_a_setl_id_reused_with_other_content_is_refused_naming_the_field(served):
    client, tokens, _ = served
    post(client, tokens["hospital"], "2207", line_2207())
    refusal = post(client, tokens["hospital"], "2207", line_2207(info=setlinfo(clr_type="41"))).json()
    assert refusal["infcode"] == -1 and refusal["err_msg"].startswith("SETTLEMENT_CONFLICT: output.setlinfo.clr_type:")


def test_every_answer_is_the_platforms_envelope_with_the_ledgers_own_message_id(served):
    client, tokens, _ = served
    ids = []
    for infno, body in (("2207", line_2207()), ("2208", line_2208()), ("2207", "{")):
        found = post(client, tokens["hospital"], infno, body).json()
        AnswerEnvelope.model_validate({**found, "output": {}})  # the outputs' contents are checked above
        ids.append(found["inf_refmsgid"])
    assert ids[0] != ids[1] and ids[1][-12:] == ids[2][-12:]  # the log position: the refusal wrote nothing


def test_no_key_another_role_or_another_interface_is_a_problem_not_an_envelope(served):
    client, tokens, _ = served
    answer = client.post("/v1/national/2207", content=json.dumps(line_2207()))
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
    channel = post(client, tokens["channel"], "2207", line_2207())
    assert channel.status_code == 403 and channel.json()["code"] == "FORBIDDEN"
    other = post(client, tokens["hospital"], "9999", line_2207())
    assert other.status_code == 404 and other.json()["field"] == "infno"


def test_a_store_that_fails_answers_the_envelope_with_503(served, monkeypatch):
    client, tokens, _ = served
    service = client.app.state.service

    async def failing(submissions):
        raise StorageError("database: connection refused")

    monkeypatch.setattr(service, "write", failing)
    answer = post(client, tokens["hospital"], "2207", line_2207())
    assert answer.status_code == 503 and answer.json()["err_msg"].startswith("STORAGE_ERROR: ")


def test_the_openapi_document_describes_the_route_and_its_answers(served):
    client, _, _ = served
    operation = client.get("/openapi.json").json()["paths"]["/v1/national/{infno}"]["post"]
    assert set(operation["responses"]) == {"200", "401", "403", "404", "413", "503"}
    envelope_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert envelope_schema["required"] == ["infcode", "inf_refmsgid", "err_msg", "output"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["infno"]["enum"] == ["2207", "2208", "3201"]
