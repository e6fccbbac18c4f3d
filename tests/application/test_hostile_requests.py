"""Hostile requests to the service and the console (issue 23, findings 5, 6 and 8), on the
in-memory store through FastAPI's TestClient.

Reproduced findings:
5. a 300 MiB body with an unknown key was read whole (server RSS 87 -> 923 MiB) before the 401;
   a 200 MiB upload to the console was spooled to disk before the session was checked; no size
   limit anywhere;
6. every anonymous GET /console/login created a server-side session, and after 10,000 the oldest,
   signed-in ones were evicted; sessions lived in one process's memory;
8. crashes answered 500 text/plain: a deeply nested body, extreme dates and months.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from infra.service.admission import BATCH_BODY_MAX, COMMAND_BODY_MAX, UPLOAD_BODY_MAX, body_limit
from infra.service.last_resort import LastResort
from tests.application.test_console_pages import csrf, sign_in
from tests.support.service import auth, make_server, seed_family


@pytest.fixture
def served(app):
    family = seed_family(app)
    api, tokens = make_server(app, follow_views=False)
    with TestClient(api, raise_server_exceptions=False) as client:
        reached = LastResort.reached
        yield client, api, tokens, family
        assert LastResort.reached == reached, "a request reached the last-resort handler"


class Body:
    """A chunked request body of `chunks` pieces of `size` bytes that counts what was read."""

    def __init__(self, chunks: int, size: int = 64 * 1024, piece: bytes = b" "):
        self.chunks, self.size, self.piece, self.taken = chunks, size, piece, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.chunks):
            self.taken += 1
            yield self.piece * self.size


# --- 5. who sends, and how much, before a body is read ------------------------------------------
def test_an_unknown_key_is_refused_before_its_body_is_read(served):
    client, _, _, _ = served
    for path in ("/v1/commands", "/v1/commands:batch", "/v1/persons/lookup", "/v1/national/2207"):
        body = Body(4800)  # 300 MiB if it were read
        answer = client.post(path, content=body, headers={"Authorization": "Bearer lk_unknown"})
        assert answer.status_code == 401 and answer.json()["code"] == "UNAUTHORIZED", path
        assert body.taken <= 1, (path, body.taken)


def test_a_declared_length_over_the_limit_is_413_unread(served):
    client, _, tokens, _ = served
    headers = auth(tokens["fund"], **{"Idempotency-Key": "big", "Content-Length": str(COMMAND_BODY_MAX + 1)})
    body = Body(1, COMMAND_BODY_MAX + 1)
    answer = client.post("/v1/commands", content=body, headers=headers)
    assert answer.status_code == 413 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "BODY_TOO_LARGE" and answer.json()["field"] == "body"


def test_a_chunked_body_is_cut_off_at_the_limit(served):
    client, _, tokens, _ = served
    body = Body(4800)
    answer = client.post("/v1/commands:batch", content=body, headers=auth(tokens["fund"]))
    assert answer.status_code == 413 and answer.json()["code"] == "BODY_TOO_LARGE"
    assert answer.json()["detail"] == f"body: larger than {BATCH_BODY_MAX} bytes"


def test_each_endpoint_has_its_limit():
    assert body_limit("/v1/commands") == COMMAND_BODY_MAX
    assert body_limit("/console/integrity/verify-bundle") == body_limit("/console/national") == UPLOAD_BODY_MAX
    assert body_limit("/v1/persons/lookup") < body_limit("/console/persons") < COMMAND_BODY_MAX


def test_a_console_upload_without_a_session_is_not_read(served):
    client, _, _, _ = served
    body = Body(3200)  # 200 MiB
    answer = client.post("/console/integrity/verify-bundle", content=body, follow_redirects=False,
                         headers={"Content-Type": "multipart/form-data; boundary=x"})  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    assert body.taken <= 1


def test_a_console_upload_over_its_limit_is_413_for_a_signed_in_operator(served):
    client, _, tokens, _ = served
    sign_in(client, tokens["operator"])
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(UPLOAD_BODY_MAX + 1)}
    answer = client.post("/console/integrity/verify-bundle", content=Body(1, 10), headers=headers)
    assert answer.status_code == 413 and "BODY_TOO_LARGE" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


# --- 6. sessions: created only at sign-in, in the store ----------------------------------------
def session_rows(app) -> int:
    tables = app.recorder.tables
    if not tables.exists("ledger_console_sessions"):
        return 0
    with tables.transaction(commit=False) as run:
        return len(run("SELECT sid_sha256 FROM {ledger_console_sessions}", (), True))


def test_anonymous_traffic_creates_no_session_and_evicts_none(served, app):
    client, _, tokens, _ = served
    sign_in(client, tokens["auditor"])
    signed = dict(client.cookies)
    client.cookies.clear()
    for _ in range(200):
        assert client.get("/console/login").status_code == 200
    assert session_rows(app) == 1
    client.cookies.update(signed)
    assert client.get("/console/", follow_redirects=False).status_code == 200


def test_a_session_is_kept_by_another_server_on_the_same_store(served, app):
    client, _, tokens, _ = served
    sign_in(client, tokens["auditor"])
    other, _ = make_server(app, follow_views=False)  # a second process, or the same one restarted
    with TestClient(other) as second:
        second.cookies.update(dict(client.cookies))
        home = second.get("/console/", follow_redirects=False)
        assert home.status_code == 200
        second.post("/console/logout", data={"csrf": csrf(home.text)})
    assert client.get("/console/", follow_redirects=False).status_code == 303  # signed out everywhere


def test_a_session_row_written_without_the_key_is_refused(served, app):
    client, _, tokens, _ = served
    sign_in(client, tokens["auditor"])
    with app.recorder.tables.transaction() as run:
        run("UPDATE {ledger_console_sessions} SET role = 'admin'")
    assert client.get("/console/", follow_redirects=False).headers["location"] == "/console/login"
    assert session_rows(app) == 0


def test_the_sign_in_form_needs_its_own_cookie(served):
    client, _, tokens, _ = served
    form = client.get("/console/login")
    client.cookies.clear()  # another browser posting this form's token
    answer = client.post("/console/login", data={"token": tokens["auditor"], "purpose": "t", "csrf": csrf(form.text)})
    assert answer.status_code == 403


# --- 8. every hostile request one coded answer -------------------------------------------------
def test_extreme_dates_and_months_are_coded_answers(served):
    client, _, tokens, family = served
    reader = auth(tokens["auditor"], **{"X-Purpose": "complaint"})
    ref = client.post("/v1/persons/lookup", json={"id_number": family["father"]}, headers=reader).json()["person_ref"]
    for as_of in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"):
        answer = client.get(f"/v1/persons/{ref}/history", params={"as_of": as_of}, headers=reader)
        assert answer.status_code == 422 and answer.json()["field"] == "as_of", as_of
    for month in ("0000-01", "9999-13"):
        answer = client.get("/v1/reports/compliance", params={"month": month, "region": "11"}, headers=reader)
        assert answer.status_code == 422 and answer.json()["code"] == "INVALID_INPUT", month
        assert client.get(f"/v1/persons/{ref}/quota", params={"month": month}, headers=reader).status_code == 422
    assert client.get("/v1/reports/compliance", params={"month": "9999-12", "region": "11"}, headers=reader).is_success
    sign_in(client, tokens["auditor"])
    for as_of in ("0001-01-01T00:00", "9999-12-31T23:59"):
        page = client.get(f"/console/persons/{ref}", params={"as_of": as_of})
        assert page.status_code in (200, 422) and page.headers["content-type"].startswith("text/html"), as_of


@pytest.mark.parametrize(
    "body",
    [b"[" * 200_000, b"[" * 60_000, b'{"a":' * 20_000, b'{"type": {}}', b"\xff\xfe", b"\x00"],
    ids=["deep-200k", "deep-60k", "deep-objects", "type-object", "not-utf8", "nul"],
)
def test_a_hostile_body_is_one_coded_answer_on_every_body_route(served, body):
    client, _, tokens, _ = served
    as_json = {"Content-Type": "application/json"}
    for path, token, headers in (
        ("/v1/commands", tokens["fund"], {"Idempotency-Key": "h-1", **as_json}),
        ("/v1/commands:batch", tokens["fund"], {"Content-Type": "application/x-ndjson"}),
        ("/v1/persons/lookup", tokens["auditor"], {"X-Purpose": "p", **as_json}),
        ("/v1/national/2207", tokens["institution"], as_json),
    ):
        answer = client.post(path, content=body, headers=auth(token, **headers))
        assert answer.status_code in (200, 413, 422), (path, answer.status_code, answer.text[:200])
        assert answer.headers["content-type"].split(";")[0] in (
            "application/problem+json", "application/json", "application/x-ndjson"), path  # fmt: skip
        if answer.headers["content-type"] == "application/problem+json":
            assert answer.json()["code"] in ("INVALID_INPUT", "BODY_TOO_LARGE")
        else:
            json.loads(answer.text.splitlines()[0])


def test_the_last_resort_answers_problem_json_and_logs(served, monkeypatch, caplog):
    client, api, tokens, _ = served
    service = api.state.service

    def broken(*args, **kwargs):
        raise RuntimeError("a bug holding 110105198001011234")

    monkeypatch.setattr(service.ledger.commands, "position", broken)
    reached = LastResort.reached
    answer = client.post("/v1/commands:batch", content=b"", headers=auth(tokens["fund"]))
    assert answer.status_code == 500 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "INTERNAL_ERROR" and "110105198001011234" not in answer.text
    assert LastResort.reached == reached + 1
    LastResort.reached = reached  # expected here: the fixture checks that nothing else reached it
    assert any("RuntimeError" in record.getMessage() for record in caplog.records)
