"""The HTTP service through FastAPI's TestClient, on the in-memory store: every endpoint, the
status and code of each kind of answer, the role x endpoint matrix, retries by Idempotency-Key."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi.testclient import TestClient

from tests.support import id_number, line
from tests.support.families import at
from tests.support.service import OUTSIDER, auth, make_server, ndjson, seed_family

PROBLEM = "application/problem+json"


@pytest.fixture
def served(app):
    family = seed_family(app)
    api, tokens = make_server(app)
    with TestClient(api) as client:
        yield client, tokens, family, app


AFTER_SEED = "2025-03-20T09:00:00+08:00"  # later than everything seed_family records (no OUT_OF_ORDER)


def post_command(client, token, key, **command):
    command.setdefault("at", AFTER_SEED)
    body = json.loads(line(command.pop("type"), **command))
    return client.post("/v1/commands", json=body, headers=auth(token, **{"Idempotency-Key": key}))


def ref_of(client, tokens, number):
    r = client.post(
        "/v1/persons/lookup", json={"id_number": number}, headers=auth(tokens["auditor"], **{"X-Purpose": "t"})
    )
    assert r.status_code == 200, r.text
    return r.json()["person_ref"]


def is_problem(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["title"] == code
    return body


# --- health, auth ------------------------------------------------------------------------------
def test_healthz_needs_no_key_and_everything_else_does(served):
    client, tokens, _, _ = served
    assert client.get("/healthz").json() == {"status": "ok"}
    is_problem(client.get("/readyz"), 401, "UNAUTHORIZED")
    assert client.get("/readyz").headers["www-authenticate"].startswith("Bearer")
    is_problem(client.get("/metrics", headers=auth("nonsense")), 401, "UNAUTHORIZED")
    is_problem(client.get("/readyz", headers={"Authorization": "Basic abc"}), 401, "UNAUTHORIZED")
    ready = client.get("/readyz", headers=auth(tokens["fund"]))
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_readyz_is_503_when_views_are_too_far_behind(app):
    seed_family(app)
    api, tokens = make_server(app, ready_lag_max=0, follow_views=False)
    with TestClient(api) as client:
        is_problem(client.get("/readyz", headers=auth(tokens["operator"])), 503, "VIEWS_BEHIND")


def test_revoked_and_expired_keys_are_refused_and_key_use_is_recorded(served):
    client, _tokens, _, _ = served
    store = client.app.state.service.ledger.keys
    key = store.create_key("operator", name="ops")
    assert client.get("/v1/verify", headers=auth(key["token"])).status_code == 200
    assert store.revoke_key(key["key_id"])
    is_problem(client.get("/v1/verify", headers=auth(key["token"])), 401, "UNAUTHORIZED")
    assert [e["action"] for e in store.key_log(key["key_id"])] == ["created", "used", "revoked"]
    assert all(k["role"] for k in store.list_keys()) and "token" not in store.list_keys()[0]


def test_metrics_show_requests_latency_batches_and_view_lag(served):
    client, tokens, family, _ = served
    post_command(
        client, tokens["fund"], "m-1", type="credit", person=family["father"], amount="1.00", source="adjustment"
    )
    client.post("/v1/commands", json={})  # no key: 401, counted like any answer
    text = client.get("/metrics", headers=auth(tokens["operator"])).text
    for name in (
        "ledger_http_requests_total",
        "ledger_http_request_duration_seconds_bucket",
        "ledger_commit_batch_commands_bucket",
        "ledger_view_lag_events",
    ):
        assert name in text
    assert 'route="/v1/commands",status="200"' in text and 'route="/v1/commands",status="401"' in text


def test_a_command_is_answered_past_the_router(served, monkeypatch):
    """POST /v1/commands, once admitted, goes to its handler directly (infra.service.admission's
    lane), with the same answers (a success, a problem) and metrics label as through the router."""
    from fastapi.routing import APIRoute

    client, tokens, family, _ = served
    routed = []
    original = APIRoute.handle

    async def handle(self, scope, receive, send):
        routed.append(self.path)
        await original(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", handle)
    ok = post_command(client, tokens["fund"], "lane-1", type="credit", person=family["father"], amount="1.00",
                      source="adjustment")  # fmt: skip
    refused = post_command(client, tokens["fund"], "lane-2", type="credit", person=family["father"], amount="-1",
                           source="adjustment")  # fmt: skip
    assert ok.status_code == 200 and ok.json()["ok"] is True
    assert refused.status_code == 422 and refused.headers["content-type"].startswith(PROBLEM)
    assert refused.json()["field"] == "amount"
    assert client.get("/metrics", headers=auth(tokens["operator"])).status_code == 200
    assert routed == ["/metrics"]  # the router was not asked for the commands


def test_openapi_31_and_docs(served):
    client, _, _, _ = served
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert "/v1/commands" in schema["paths"] and "Command" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


# --- commands -------------------------------------------------------------------------------
def test_accepted_command_answers_like_apply_plus_position(served):
    client, tokens, family, app = served
    r = post_command(
        client, tokens["fund"], "c-1", type="credit", person=family["father"], amount="5.00", source="adjustment"
    )
    assert r.status_code == 200 and "idempotency-replayed" not in r.headers
    body = r.json()
    assert body["ok"] and body["command"] == "credit" and body["command_id"] == "c-1"
    assert body["position"] == app.recorder.max_notification_id()
    again = post_command(
        client, tokens["fund"], "c-1", type="credit", person=family["father"], amount="5.00", source="adjustment"
    )
    assert again.status_code == 200 and again.headers["idempotency-replayed"] == "true"
    assert again.json()["duplicate"] is True
    assert app.get_person(family["father"]).balance_fen == 30_000 + 500  # moved once
    conflict = post_command(
        client, tokens["fund"], "c-1", type="credit", person=family["father"], amount="6.00", source="adjustment"
    )
    assert is_problem(conflict, 409, "COMMAND_CONFLICT")["field"] == "command_id"


def test_idempotency_key_is_required_and_must_agree_with_the_body(served):
    client, tokens, family, _ = served
    body = json.loads(line("credit", person=family["father"], amount="1.00", source="adjustment"))
    r = client.post("/v1/commands", json=body, headers=auth(tokens["fund"]))
    assert is_problem(r, 422, "INVALID_INPUT")["field"] == "Idempotency-Key"
    for wrong in ("", "k" * 129):
        r = client.post("/v1/commands", json=body, headers=auth(tokens["fund"], **{"Idempotency-Key": wrong}))
        assert is_problem(r, 422, "INVALID_INPUT")["field"] == "Idempotency-Key"
    r = client.post("/v1/commands", json=body, headers={"Idempotency-Key": "k-0"})  # the key is checked first
    is_problem(r, 401, "UNAUTHORIZED")
    r = client.post("/v1/commands", json=body, headers=auth(tokens["auditor"]))  # then its role
    is_problem(r, 403, "FORBIDDEN")
    r = client.post(
        "/v1/commands", json={**body, "command_id": "other"}, headers=auth(tokens["fund"], **{"Idempotency-Key": "k-1"})
    )
    assert is_problem(r, 422, "INVALID_INPUT")["field"] == "command_id"
    r = client.post(
        "/v1/commands", json={**body, "command_id": "k-1"}, headers=auth(tokens["fund"], **{"Idempotency-Key": "k-1"})
    )
    assert r.status_code == 200


def test_invalid_input_unknown_person_and_rule_refusal_codes(served):
    client, tokens, family, _ = served
    r = post_command(
        client, tokens["fund"], "i-1", type="credit", person=family["father"], amount="1.001", source="adjustment"
    )
    assert is_problem(r, 422, "INVALID_INPUT")["field"] == "amount"
    r = post_command(
        client, tokens["fund"], "i-2", type="credit", person="110105198001010000", amount="1.00", source="adjustment"
    )
    is_problem(r, 422, "INVALID_ID_NUMBER")
    r = post_command(
        client,
        tokens["fund"],
        "i-3",
        type="credit",
        person=id_number("110105", "19990101", 51),
        amount="1.00",
        source="adjustment",
    )
    assert is_problem(r, 404, "UNKNOWN_PERSON")["field"] == "person"
    r = client.post("/v1/commands", content=b"{nope", headers=auth(tokens["fund"], **{"Idempotency-Key": "i-4"}))
    is_problem(r, 422, "INVALID_INPUT")
    # a refused bind is a recorded rejection: 409 with its rule, rule version and `recorded`
    bind = dict(
        type="bind",
        binder=family["father"],
        member=family["child"],
        relationship="child",
        channel="alipay",
        verification="face",
    )
    assert post_command(client, tokens["channel"], "b-1", **bind).status_code == 200
    problem = is_problem(post_command(client, tokens["channel"], "b-2", **bind), 409, "ALREADY_BOUND")
    assert problem["recorded"] is True and problem["rule_version"] and problem["rule"] and problem["position"] > 0
    r = post_command(client, tokens["institution"], "r-0", type="reverse", settlement_id="NO-SUCH")
    is_problem(r, 404, "UNKNOWN_SETTLEMENT")


def test_scopes_of_channel_and_institution_keys(served):
    client, tokens, family, _ = served
    bind = dict(
        type="bind",
        binder=family["father"],
        member=family["child"],
        relationship="child",
        verification="face",
        at=at(11),
    )
    is_problem(post_command(client, tokens["channel"], "s-1", channel="wechat", **bind), 403, "FORBIDDEN")
    assert post_command(client, tokens["channel"], "s-2", channel="alipay", **bind).status_code == 200
    deduct = dict(type="deduct", patient=family["child"], amount="1.00", category="pharmacy", at=at(11))
    is_problem(
        post_command(client, tokens["institution"], "s-3", settlement_id="S-2", institution="H-2", **deduct),
        403,
        "FORBIDDEN",
    )
    other = client.app.state.service.ledger.keys.create_key("institution", institution="H-2")["token"]
    is_problem(post_command(client, other, "s-4", type="reverse", settlement_id="S-1", at=at(12)), 403, "FORBIDDEN")
    r = post_command(client, tokens["institution"], "s-5", type="reverse", settlement_id="S-1", at=at(12))
    assert r.status_code == 200 and r.json()["refunded_fen"] == 5000
    is_problem(post_command(client, tokens["fund"], "s-6", **bind, channel="alipay"), 403, "FORBIDDEN")
    is_problem(
        post_command(
            client, tokens["auditor"], "s-7", type="credit", person=family["father"], amount="1.00", source="adjustment"
        ),
        403,
        "FORBIDDEN",
    )


def test_batch_is_ndjson_in_and_out_like_apply(served):
    client, tokens, family, app = served
    lines = ndjson(
        json.loads(line("credit", person=family["father"], amount="1.00", source="adjustment", command_id="b-1")),
        json.loads(line("credit", person=family["mother"], amount="1.001", source="adjustment", command_id="b-2")),
        json.loads(line("credit", person=family["mother"], amount="1.00", source="adjustment")),  # no id
    )
    r = client.post("/v1/commands:batch", content=lines + "\n" + "not json\n", headers=auth(tokens["fund"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    answers = [json.loads(x) for x in r.text.splitlines()]
    assert [a["line"] for a in answers] == [1, 2, 3, 4, 5]
    assert [a["ok"] for a in answers] == [True, False, False, False, False]
    assert answers[1]["error"]["code"] == "INVALID_INPUT" and answers[3]["error"]["field"] == "line"
    assert answers[2]["error"] == {
        "code": "INVALID_INPUT",
        "field": "command_id",
        "message": "command_id: required for a command sent with a key (a retry must not be applied twice)",
    }
    assert int(r.headers["ledger-position"]) == app.recorder.max_notification_id()


def test_batch_lines_are_split_and_screened_as_apply_does(served):
    """A bare CR stays inside its line and a non-UTF-8 line is refused alone: the batch endpoint
    reads its body as `ledger apply` reads a file (one answer per LF-ended line)."""
    client, tokens, family, _ = served
    credit = line("credit", person=family["father"], amount="1.00", source="adjustment", at=AFTER_SEED, command_id="c")
    body = (
        (credit.replace(", ", ",\r ", 1).replace('"c"', '"c-1"') + "\n").encode()
        + b'{"type": "credit\xff"}\n'
        + credit.replace('"c"', '"c-2"').encode()
        + b"\n"
    )
    r = client.post("/v1/commands:batch", content=body, headers=auth(tokens["fund"]))
    answers = [json.loads(x) for x in r.text.splitlines()]
    assert r.status_code == 200 and [a["line"] for a in answers] == [1, 2, 3]
    assert [a["ok"] for a in answers] == [True, False, True]
    assert answers[1]["error"]["code"] == "INVALID_INPUT" and "UTF-8" in answers[1]["error"]["message"]


def test_batch_with_a_forbidden_line_applies_nothing(served):
    client, tokens, family, app = served
    before = app.recorder.max_notification_id()
    lines = ndjson(
        json.loads(line("credit", person=family["father"], amount="1.00", source="adjustment")),
        json.loads(
            line(
                "bind",
                binder=family["father"],
                member=family["child"],
                relationship="child",
                channel="alipay",
                verification="face",
            )
        ),
    )
    body = is_problem(client.post("/v1/commands:batch", content=lines, headers=auth(tokens["fund"])), 403, "FORBIDDEN")
    assert body["line"] == 2 and app.recorder.max_notification_id() == before


def test_same_idempotency_key_from_concurrent_clients_moves_money_once(served):
    client, tokens, family, app = served
    before = app.get_person(family["grandma"]).balance_fen
    results = []

    def send():
        results.append(
            post_command(
                client,
                tokens["fund"],
                "same-key",
                type="credit",
                person=family["grandma"],
                amount="7.00",
                source="adjustment",
            )
        )

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200] * 8
    assert sum(r.headers.get("idempotency-replayed") != "true" for r in results) == 1
    assert app.get_person(family["grandma"]).balance_fen == before + 700


def test_one_transaction_mode_answers_the_same(app):
    family = seed_family(app)
    api, tokens = make_server(app, group_commit=False)
    with TestClient(api) as client:
        r = post_command(
            client, tokens["fund"], "d-1", type="credit", person=family["father"], amount="2.00", source="adjustment"
        )
        assert r.status_code == 200 and r.json()["position"] == app.recorder.max_notification_id()
        assert (
            post_command(
                client,
                tokens["fund"],
                "d-1",
                type="credit",
                person=family["father"],
                amount="2.00",
                source="adjustment",
            ).headers["idempotency-replayed"]
            == "true"
        )
        r = client.post(
            "/v1/commands:batch",
            content=ndjson(
                json.loads(
                    line(
                        "credit",
                        person=family["father"],
                        amount="1.00",
                        source="adjustment",
                        at=AFTER_SEED,
                        command_id="d-2",
                    )
                )
            ),
            headers=auth(tokens["fund"]),
        )
        assert json.loads(r.text)["ok"] is True


# --- reads ----------------------------------------------------------------------------------
def test_person_reads_by_reference_and_the_access_log(served):
    client, tokens, family, app = served
    ref = ref_of(client, tokens, family["child"])
    h = auth(tokens["auditor"], **{"X-Purpose": "dispute 42"})
    person = client.get(f"/v1/persons/{ref}", headers=h).json()
    assert person["person"] == family["child"][:6] + "*" * 8 + family["child"][-4:]
    head = app.recorder.max_notification_id()
    balance = client.get(f"/v1/persons/{ref}/balance", params={"min_position": head}, headers=h).json()
    assert balance["balance_fen"] == app.get_person(family["child"]).balance_fen
    assert (
        len(
            client.get(f"/v1/persons/{ref}/authorizations", params={"min_position": head}, headers=h).json()[
                "authorizers"
            ]
        )
        == 3
    )
    assert client.get(f"/v1/persons/{ref}/bindings", headers=h).json()["members"] == []
    quota = client.get(f"/v1/persons/{ref}/quota", params={"month": "2025-03", "min_position": head}, headers=h)
    assert quota.status_code == 200 and quota.json()["month"] == "2025-03"
    history = client.get(f"/v1/persons/{ref}/history", params={"as_of": "2025-03-05"}, headers=h).json()
    assert history["events"] >= 2 and history["person_ref"] == ref
    is_problem(
        client.get(f"/v1/persons/{ref}/balance", params={"min_position": head + 10}, headers=h), 422, "INVALID_INPUT"
    )
    is_problem(client.get(f"/v1/persons/{ref}/quota", params={"month": "2025-13"}, headers=h), 422, "INVALID_INPUT")
    log = client.get(f"/v1/persons/{ref}/access-log", headers=h).json()["entries"]
    endpoints = [e["endpoint"] for e in log]
    assert endpoints[:2] == ["/v1/persons/lookup", "/v1/persons/{person_ref}"]
    assert {e["purpose"] for e in log} >= {"dispute 42", "t"} and {e["role"] for e in log} == {"auditor"}
    admin_view = client.get(f"/v1/persons/{ref}/access-log", headers=auth(tokens["admin"]))
    assert admin_view.status_code == 200


def test_auditor_needs_a_purpose_and_stays_in_its_region(served):
    client, tokens, family, _ = served
    ref = ref_of(client, tokens, family["child"])
    is_problem(client.get(f"/v1/persons/{ref}", headers=auth(tokens["auditor"])), 422, "PURPOSE_REQUIRED")
    is_problem(
        client.post("/v1/persons/lookup", json={"id_number": family["child"]}, headers=auth(tokens["auditor"])),
        422,
        "PURPOSE_REQUIRED",
    )
    wuhan = auth(tokens["auditor_42"], **{"X-Purpose": "t"})
    is_problem(client.get(f"/v1/persons/{ref}", headers=wuhan), 403, "FORBIDDEN")
    r = client.post("/v1/persons/lookup", json={"id_number": OUTSIDER}, headers=wuhan)
    assert r.status_code == 200
    outsider = r.json()["person_ref"]
    is_problem(
        client.get(f"/v1/persons/{outsider}", headers=auth(tokens["auditor"], **{"X-Purpose": "t"})), 403, "FORBIDDEN"
    )
    is_problem(
        client.get(
            "/v1/reports/compliance", params={"month": "2025-03", "region": "42"}, headers=auth(tokens["auditor"])
        ),
        403,
        "FORBIDDEN",
    )
    is_problem(
        client.get("/v1/persons/not-a-ref", headers=auth(tokens["auditor"], **{"X-Purpose": "t"})),
        404,
        "UNKNOWN_PERSON",
    )
    is_problem(
        client.post(
            "/v1/persons/lookup",
            json={"id_number": id_number("110105", "19990101", 51)},
            headers=auth(tokens["auditor"], **{"X-Purpose": "t"}),
        ),
        404,
        "UNKNOWN_PERSON",
    )
    is_problem(
        client.post(
            "/v1/persons/lookup", json={"id_number": "12345"}, headers=auth(tokens["auditor"], **{"X-Purpose": "t"})
        ),
        422,
        "INVALID_ID_NUMBER",
    )


def test_settlement_audit_bundle_reports_seal_verify(served):
    client, tokens, _, _ = served
    h = auth(tokens["auditor"], **{"X-Purpose": "dispute"})
    audit = client.get("/v1/settlements/S-1/audit", headers=h)
    assert audit.status_code == 200 and audit.json()["verdict"] == "consistent"
    page = client.get("/v1/settlements/S-1/audit", params={"format": "html"}, headers=h)
    assert page.headers["content-type"].startswith("text/html") and "S-1" in page.text
    is_problem(client.get("/v1/settlements/NOPE/audit", headers=h), 404, "UNKNOWN_SETTLEMENT")
    is_problem(client.get("/v1/settlements/S-1/bundle", headers=h), 409, "NOT_SEALED")
    sealed = client.post("/v1/seal", headers=auth(tokens["operator"]))
    assert sealed.status_code == 200 and sealed.json()["checkpoint"]["position"] > 0
    bundle = client.get("/v1/settlements/S-1/bundle", headers=h)
    assert bundle.status_code == 200 and bundle.json()["settlement_id"] == "S-1"
    assert client.get("/v1/verify", headers=auth(tokens["operator"])).json()["ok"] is True
    for fmt, kind in (("json", "application/json"), ("csv", "text/csv"), ("html", "text/html")):
        r = client.get(
            "/v1/reports/compliance",
            params={"month": "2025-03", "region": "11", "format": fmt},
            headers=auth(tokens["auditor"]),
        )
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)


def test_projections_status_checksum_and_rebuild(served):
    client, tokens, _, app = served
    h = auth(tokens["operator"])
    status = client.get("/v1/projections", headers=h).json()
    assert status["head"] == app.recorder.max_notification_id() and status["views"]
    checksum = client.get("/v1/projections/checksum", headers=h).json()["views"]
    rebuilt = client.post("/v1/projections/rebuild", headers=h).json()["views"]
    assert {n: v["checksum"] for n, v in rebuilt.items()} == {n: v["checksum"] for n, v in checksum.items()}


def test_unknown_route_is_a_problem(served):
    client, tokens, _, _ = served
    is_problem(client.get("/v2/nothing", headers=auth(tokens["admin"])), 404, "NOT_FOUND")


# --- the role x endpoint matrix ----------------------------------------------------------------
def endpoints(client, tokens, family):
    ref = ref_of(client, tokens, family["child"])
    credit = json.loads(line("credit", person=family["father"], amount="1.00", source="adjustment", at=AFTER_SEED))
    bind = json.loads(
        line(
            "bind",
            binder=family["mother"],
            member=family["child"],
            relationship="child",
            channel="alipay",
            verification="face",
            at=AFTER_SEED,
        )
    )
    deduct = json.loads(
        line(
            "deduct",
            settlement_id="S-M",
            patient=family["child"],
            amount="1.00",
            category="pharmacy",
            institution="H-1",
            at=AFTER_SEED,
        )
    )
    return [  # (method, path, kwargs, roles allowed)
        ("GET", "/readyz", {}, {"channel", "institution", "fund", "auditor", "operator", "admin"}),
        ("GET", "/metrics", {}, {"channel", "institution", "fund", "auditor", "operator", "admin"}),
        ("POST", "/v1/commands", {"json": credit, "idem": True}, {"fund"}),
        ("POST", "/v1/commands", {"json": bind, "idem": True}, {"channel"}),
        ("POST", "/v1/commands", {"json": deduct, "idem": True}, {"institution"}),
        ("POST", "/v1/commands:batch", {"content": json.dumps(credit) + "\n"}, {"fund"}),
        ("POST", "/v1/persons/lookup", {"json": {"id_number": family["child"]}}, {"auditor"}),
        ("GET", f"/v1/persons/{ref}", {}, {"auditor"}),
        ("GET", f"/v1/persons/{ref}/balance", {}, {"auditor"}),
        ("GET", f"/v1/persons/{ref}/bindings", {}, {"auditor"}),
        ("GET", f"/v1/persons/{ref}/authorizations", {}, {"auditor"}),
        ("GET", f"/v1/persons/{ref}/quota?month=2025-03", {}, {"auditor"}),
        ("GET", f"/v1/persons/{ref}/history", {}, {"auditor"}),
        ("GET", f"/v1/persons/{ref}/access-log", {}, {"auditor", "admin"}),
        ("GET", "/v1/settlements/S-1/audit", {}, {"auditor"}),
        ("GET", "/v1/reports/compliance?month=2025-03&region=11", {}, {"auditor"}),
        ("POST", "/v1/seal", {}, {"operator"}),
        ("GET", "/v1/verify", {}, {"operator"}),
        ("GET", "/v1/projections", {}, {"operator"}),
        ("GET", "/v1/projections/checksum", {}, {"operator"}),
        ("POST", "/v1/projections/rebuild", {}, {"operator"}),
    ]


def test_role_endpoint_matrix(served):
    client, tokens, family, _ = served
    roles = ("channel", "institution", "fund", "auditor", "operator", "admin")
    for number, (method, path, kwargs, allowed) in enumerate(endpoints(client, tokens, family)):
        kwargs = dict(kwargs)
        idem = kwargs.pop("idem", False)
        for role in (*roles, None):
            headers = {"X-Purpose": "matrix"}
            if role:
                headers["Authorization"] = f"Bearer {tokens[role]}"
            if idem:
                headers["Idempotency-Key"] = f"matrix-{number}-{role}"
            r = client.request(method, path, headers=headers, **kwargs)
            if role is None:
                assert r.status_code == 401, (method, path)
            elif role in allowed:
                assert r.status_code == 200, (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.text)
                assert r.headers["content-type"].startswith(PROBLEM)


def test_no_id_number_in_any_answer(served):
    client, tokens, family, _ = served
    raw = set(family.values()) | {OUTSIDER}
    texts: list[str] = []
    for method, path, kwargs, allowed in endpoints(client, tokens, family):
        role = sorted(allowed)[0]
        kwargs = dict(kwargs)
        headers = auth(tokens[role], **{"X-Purpose": "scan"})
        if kwargs.pop("idem", False):
            headers["Idempotency-Key"] = f"scan-{len(texts)}"
        texts.append(client.request(method, path, headers=headers, **kwargs).text)
    texts.append(client.get("/openapi.json").text)
    for text in texts:
        assert not any(number in text for number in raw)


def test_a_person_the_views_have_not_reached_yet_is_read_once_they_have(app):
    """A person read from the views before the follower has applied their enrolment: the
    aggregate knows them, so 'no enrolled person' would be false. The read catches the views up
    to the log's head (bounded wait) and answers; the CI run that found this had quota 404."""
    api, tokens = make_server(app, follow_views=False)
    with TestClient(api) as client:
        family = seed_family(app)
        ref = ref_of(client, tokens, family["child"])
        h = auth(tokens["auditor"], **{"X-Purpose": "t"})
        for path in ("balance", "bindings", "authorizations", "quota?month=2025-03"):
            r = client.get(f"/v1/persons/{ref}/{path}", headers=h)
            assert r.status_code == 200, (path, r.text)
        assert client.get(f"/v1/persons/{ref}/balance", headers=h).json()["balance_fen"] == (
            app.get_person(family["child"]).balance_fen
        )


def test_fastapi_opentelemetry_is_off_and_costs_no_request_anything(served, monkeypatch):
    """The ledger's metrics are Prometheus's: FastAPI's native OpenTelemetry instrumentation is
    switched off, so no request looks up its providers (it read the environment three times a
    request, about 4% of the server's event loop under load)."""
    from opentelemetry import _logs, metrics, trace

    client, tokens, family, _ = served
    asked: list[str] = []

    def counted(name, original):
        def provider():
            asked.append(name)
            return original()

        return provider

    for module, name in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider"),
                         (_logs, "get_logger_provider")):  # fmt: skip
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    response = post_command(
        client, tokens["fund"], "otel-1", type="credit", person=family["father"], amount="1.00", source="adjustment"
    )
    assert response.status_code == 200, response.text
    assert client.get("/healthz").status_code == 200
    assert asked == []
