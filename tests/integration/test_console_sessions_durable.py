"""Console sessions in the ledger's own database, on SQLite and PostgreSQL (issue 23, finding 6):
a session signed in through one server is known to another opened on the same store (another
process, or the same one restarted), and signing out ends it for both.

Regression: on PostgreSQL the expiry was stored in a REAL (float4) column, which rounded it, so
the row's MAC never verified again and every sign-in ended at the next page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from infra.eventstore.application import LedgerApp
from tests.support.backends import settings_for
from tests.support.service import make_server


def test_a_session_outlives_its_server_and_ends_everywhere(durable_url):
    first_app = LedgerApp(settings_for(durable_url))
    api, tokens = make_server(first_app, follow_views=False)
    with TestClient(api) as client:
        form = client.get("/console/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        client.post("/console/login", data={"token": tokens["operator"], "purpose": "check", "csrf": csrf.group(1)})
        assert client.get("/console/integrity", follow_redirects=False).status_code == 200
        cookies = dict(client.cookies)
    first_app.close()
    second_app = LedgerApp(settings_for(durable_url))  # a restart, or another server process
    second, _ = make_server(second_app, follow_views=False)
    with TestClient(second) as client:
        client.cookies.update(cookies)
        home = client.get("/console/", follow_redirects=False)
        assert home.status_code == 200
        token = re.search(r'name="csrf" value="([^"]+)"', home.text)
        assert token is not None
        client.post("/console/logout", data={"csrf": token.group(1)})
        client.cookies.update(cookies)
        assert client.get("/console/", follow_redirects=False).status_code == 303
    second_app.close()
