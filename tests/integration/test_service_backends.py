"""The service on real stores (SQLite file, PostgreSQL schema): its tables, and the same
Idempotency-Key sent concurrently from several clients, in every write mode, moves money once."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi.testclient import TestClient

from infra.eventstore.application import LedgerApp
from tests.support import Ledger, id_number, line
from tests.support.backends import settings_for
from tests.support.service import auth, make_server


@pytest.mark.parametrize(("group_commit", "writer_kind"), [(True, "thread"), (True, "process"), (False, "thread")])
def test_concurrent_retries_move_money_once(durable_url, group_commit, writer_kind):
    app = LedgerApp(settings_for(durable_url))
    person = id_number("110105", "19800101", 11)
    Ledger(app).enroll(person, balance="10.00")
    api, tokens = make_server(app, group_commit=group_commit, writer_kind=writer_kind)
    body = json.loads(line("credit", person=person, amount="3.00", source="adjustment"))
    statuses, replayed = [], []
    with TestClient(api) as client:

        def send(key):
            r = client.post("/v1/commands", json=body, headers=auth(tokens["fund"], **{"Idempotency-Key": key}))
            statuses.append(r.status_code)
            replayed.append(r.headers.get("idempotency-replayed") == "true")

        threads = [threading.Thread(target=send, args=(key,)) for key in ["k-a"] * 6 + ["k-b"] * 6]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == [200] * 12 and replayed.count(False) == 2
    assert app.get_person(person).balance_fen == 1000 + 2 * 300
    store = api.state.service.ledger.keys
    assert {k["role"] for k in store.list_keys()} >= {"fund", "auditor"}
    assert [e["action"] for e in store.key_log()].count("used") >= 1
    app.close()
