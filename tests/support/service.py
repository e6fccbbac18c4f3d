"""Helpers for the HTTP service tests: a server on an application, keys of every role, a family."""

from __future__ import annotations

import json
from typing import Any

from infra.core.bootstrap import ledger_of
from infra.service.app import create_app
from tests.support import Ledger, id_number
from tests.support.families import at, national_family

ROLE_KEYS: dict[str, dict[str, Any]] = {
    "channel": {"channel": "alipay"},
    "institution": {"institution": "H-1"},
    "fund": {},
    "auditor": {"region": "11"},
    "operator": {},
    "admin": {},
}
OUTSIDER = id_number("420102", "19850707", 45)  # Wuhan: outside the Beijing auditor's region


def make_server(app: Any, **options: Any) -> tuple[Any, dict[str, str]]:
    """The FastAPI app on `app`, and a token per role (plus a Wuhan auditor, 'auditor_42')."""
    ledger = ledger_of(app, key_cache_s=options.pop("key_cache_s", 0.0))
    api = create_app(ledger, **options)
    store = ledger.keys
    tokens = {role: store.create_key(role, **scope)["token"] for role, scope in ROLE_KEYS.items()}
    tokens["auditor_42"] = store.create_key("auditor", region="42")["token"]
    return api, tokens


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def seed_family(app: Any) -> dict[str, str]:
    """The national family, a deduction S-1 by institution H-1, and a Wuhan person."""
    ledger = Ledger(app)
    family = national_family(ledger)
    ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=family["child"],
        amount="50.00",
        category="pharmacy",
        institution="H-1",
        at=at(10),
    )
    ledger.enroll(OUTSIDER, balance="10.00", at=at(1))
    return family


def ndjson(*lines: dict) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)
