"""The console's reconciliation page (/console/national) through FastAPI's TestClient on the
in-memory store: auditors upload a statement and a detail file, see the report's body with each
difference linked to its deduction's replay and the integrity attestation, or download it; the
form carries a CSRF token; statements outside the key's region are refused; bad files are told
on the page, naming the line and the field.

Method: the Wuhan family of docs/examples/commands.jsonl and the example records of
docs/examples/national-*.jsonl, imported through the core, as docs/national.md tells it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infra.core.bootstrap import ledger_of
from tests.application.test_console_pages import assert_labelled, csrf, sign_in
from tests.support import Ledger
from tests.support.service import make_server

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
STATEMENT = (EXAMPLES / "national-statement.jsonl").read_bytes()
DETAIL = (EXAMPLES / "national-detail.jsonl").read_bytes()
DISPUTED = "42010000000422000001"  # the child's settlement: the hospital says 100.00 + 20.00 cash
NOT_PAID = "42010000000422000003"  # the father's: the accounts did not pay, so no replay


@pytest.fixture
def served(app):
    ledger = Ledger(app)
    for line in (EXAMPLES / "commands.jsonl").read_text().splitlines():
        ledger.apply_line(line)
    answers = list(
        ledger_of(app).national.import_lines((EXAMPLES / "national-records.jsonl").read_bytes().splitlines())
    )
    assert all(answer["ok"] for answer in answers), answers
    api, tokens = make_server(app, follow_views=False)
    tokens["auditor_4201"] = api.state.service.ledger.keys.create_key("auditor", region="4201")["token"]
    with TestClient(api) as client:
        yield client, tokens


def reconcile(client: TestClient, statement: bytes = STATEMENT, detail: bytes | None = DETAIL, **form: str):
    page = client.get("/console/national")
    files = {"statement": ("statement.jsonl", statement, "application/json")}
    if detail is not None:
        files["detail"] = ("detail.jsonl", detail, "application/json")
    return client.post("/console/national", data={"csrf": csrf(page.text), **form}, files=files)


def test_an_auditor_sees_the_reconciliation_with_each_difference_linked_to_its_replay(served):
    client, tokens = served
    sign_in(client, tokens["auditor_42"])
    form = client.get("/console/national")
    assert form.status_code == 200 and 'href="/console/national"' in form.text  # in the navigation
    assert_labelled(form.text)
    shown = reconcile(client)
    assert shown.status_code == 200, shown.text
    assert 'id="reconciliation-verdict" data-balanced="false"' in shown.text
    assert f'<a href="/console/settlements/{DISPUTED}" class="replay">{DISPUTED}</a>' in shown.text
    assert f'href="/console/settlements/{NOT_PAID}"' not in shown.text
    assert 'id="integrity-verdict"' in shown.text and "acct_mulaid_pay" in shown.text
    replay = client.get(f"/console/settlements/{DISPUTED}")
    assert replay.status_code == 200 and "consistent" in replay.text


def test_without_a_detail_file_the_statements_alone_balance(served):
    client, tokens = served
    sign_in(client, tokens["auditor_42"])
    shown = reconcile(client, detail=None)
    assert 'data-balanced="true"' in shown.text and 'id="no-detail"' in shown.text


def test_the_reconciliation_downloads_as_json_csv_and_html(served):
    client, tokens = served
    sign_in(client, tokens["auditor_42"])
    as_json = reconcile(client, format="json")
    assert as_json.headers["content-disposition"] == 'attachment; filename="reconciliation-H42010200017.json"'
    result = json.loads(as_json.text)
    assert result["balanced"] is False and [d["field"] for d in result["detail"]["differing"]] == [
        "psn_cash_pay",
        "acct_mulaid_pay",
    ]
    assert reconcile(client, format="csv").text.startswith("section,fixmedins_code,")
    offline = reconcile(client, format="html").text
    assert (
        offline.startswith("<!DOCTYPE html>") and f'href="http://testserver/console/settlements/{DISPUTED}"' in offline
    )


def test_the_form_needs_its_csrf_token(served):
    client, tokens = served
    sign_in(client, tokens["auditor_42"])
    files = {"statement": ("s.jsonl", STATEMENT, "application/json")}
    refused = client.post("/console/national", data={"csrf": "wrong"}, files=files)
    assert refused.status_code == 403 and "CSRF" in refused.text


def test_statements_outside_the_keys_region_are_refused(served):
    client, tokens = served
    sign_in(client, tokens["auditor"])  # Beijing: region 11
    refused = reconcile(client)
    assert refused.status_code == 403 and "FORBIDDEN" in refused.text and DISPUTED not in refused.text
    sign_in(client, tokens["auditor_4201"])
    assert reconcile(client).status_code == 200


def test_only_auditors_reconcile(served):
    client, tokens = served
    sign_in(client, tokens["operator"])
    assert client.get("/console/national").status_code == 403


@pytest.mark.parametrize(
    ("statement", "detail", "status", "told"),
    [
        (b"", None, 422, "Choose a statement file"),
        (b'{"infno": "3201"}', None, 422, "statement line 1: fixmedins_code: required"),
        (STATEMENT, b'{"setl_id": "1"}\n', 422, "detail line 1: "),
        (STATEMENT.replace(b'"50.00"', b'"50.001"'), None, 422, "at most two decimals"),
    ],
)
def test_a_bad_file_is_told_on_the_page_naming_the_line_and_field(served, statement, detail, status, told):
    client, tokens = served
    sign_in(client, tokens["auditor_42"])
    answer = reconcile(client, statement=statement, detail=detail)
    assert answer.status_code == status and told in answer.text, answer.text
    assert 'id="upload-error"' in answer.text and "Traceback" not in answer.text


def test_a_misconfigured_seal_public_key_is_told_on_the_page(served, monkeypatch):
    client, tokens = served
    sign_in(client, tokens["auditor_42"])
    monkeypatch.setenv("LEDGER_SEAL_PUBLIC_KEY", "not-hex")
    answer = reconcile(client)
    assert answer.status_code == 503 and "SEAL_PUBLIC_KEY_INVALID: LEDGER_SEAL_PUBLIC_KEY" in answer.text
    assert 'id="upload-error"' in answer.text and "Traceback" not in answer.text
