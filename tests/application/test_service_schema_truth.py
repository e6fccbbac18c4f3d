"""Where the API changed to answer exactly what its schema states (docs/service.md, "What the
schema states"): months are YYYY-MM with years 0001-9999 and months 01-12, all of them answered;
`as_of` and `known_at` outside UTC's years are refused, not a server error; a body that cannot be
read is refused 422 like any other invalid input, never 400."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.service import auth, make_server, seed_family


@pytest.fixture
def served(app):
    family = seed_family(app)
    api, tokens = make_server(app)
    with TestClient(api, raise_server_exceptions=False) as client:
        headers = auth(tokens["auditor"], **{"X-Purpose": "schema"})
        ref = client.post("/v1/persons/lookup", json={"id_number": family["child"]}, headers=headers).json()
        yield client, headers, ref["person_ref"]


def problem(response, status, field):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == "INVALID_INPUT" and body["field"] == field, body
    return body


def test_every_month_the_schema_admits_is_answered_and_no_other(served):
    client, headers, ref = served
    for month in ("0001-01", "2025-03", "9999-12"):
        report = client.get("/v1/reports/compliance", params={"month": month, "region": "11"}, headers=headers)
        assert report.status_code == 200, (month, report.text)
        assert len(report.json()["by_day"]) == {"0001-01": 31, "2025-03": 31, "9999-12": 31}[month]
        quota = client.get(f"/v1/persons/{ref}/quota", params={"month": month}, headers=headers)
        assert quota.status_code in (200, 422) and quota.json().get("code") in (None, "UNKNOWN_RULE_VERSION")
    for month in ("0000-01", "2025-13", "2025-00", "2025-3"):
        problem(client.get("/v1/reports/compliance", params={"month": month}, headers=headers), 422, "month")
        problem(client.get(f"/v1/persons/{ref}/quota", params={"month": month}, headers=headers), 422, "month")


def test_a_moment_outside_what_utc_holds_is_refused_and_never_echoed(served):
    client, headers, ref = served
    for moment in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        for name in ("as_of", "known_at"):
            body = problem(client.get(f"/v1/persons/{ref}/history", params={name: moment}, headers=headers), 422, name)
            assert moment not in body["detail"]
    assert client.get(f"/v1/persons/{ref}/history", params={"as_of": "9999-12-31"}, headers=headers).status_code == 200
    problem(
        client.get(f"/v1/persons/{ref}/history", params={"as_of": "2025-03-05T12:00"}, headers=headers), 422, "as_of"
    )


def test_a_body_that_cannot_be_read_is_invalid_input_not_a_bad_request(served):
    client, headers, _ = served
    for body in (b'{"id_number": "\xff"}', b"\x80abc"):
        sent = client.post("/v1/persons/lookup", content=body, headers={**headers, "Content-Type": "application/json"})
        problem(sent, 422, "body")
