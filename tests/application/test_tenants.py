"""Tenants who do not trust each other (issue 23, findings 1-3): scope decided where the state is,
command ids scoped to the tenant that sent them, and every change attributed to the key that sent
it, through the service on the in-memory store.

Reproduced findings:
1. H-2's `reverse` of H-1's settlement, sent 0-4 ms after H-1's deduct, was let through (its scope
   was checked before the deduct was stored);
2. command ids were global: another tenant's id conflicted, could be probed, and an identical
   body from a second channel under the same id got the first channel's answer as a replay;
3. nothing recorded who sent a command; a WeChat key ended an Alipay binding with no channel in
   the history; batch lines without a command id were applied again when resent.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain import events as ev
from domain.command_record import CommandRecord, command_aggregate_id
from infra.storage.meta_positions import COMMAND_IDS_SCOPED_FROM
from tests.support import Ledger, line
from tests.support.service import auth, make_server, seed_family

AFTER_SEED = "2025-03-20T09:00:00+08:00"


@pytest.fixture
def served(app):
    family = seed_family(app)
    api, tokens = make_server(app, follow_views=False)
    keys = api.state.service.ledger.keys
    tokens["institution_2"] = keys.create_key("institution", institution="H-2")["token"]
    tokens["wechat"] = keys.create_key("channel", channel="wechat")["token"]
    with TestClient(api) as client:
        yield client, tokens, family, app


def post(client: TestClient, token: str, key: str, **command: Any):
    command.setdefault("at", AFTER_SEED)
    body = json.loads(line(command.pop("type"), **command))
    return client.post("/v1/commands", json=body, headers=auth(token, **{"Idempotency-Key": key}))


def deduct(family: dict[str, str], settlement_id: str, institution: str, amount: str = "5.00") -> dict[str, Any]:
    return {"type": "deduct", "settlement_id": settlement_id, "patient": family["child"], "amount": amount,
            "category": "pharmacy", "institution": institution}  # fmt: skip


# --- 1. scope decided where the state is ----------------------------------------------------------
def test_a_reverse_sent_with_the_deduct_it_names_is_refused_for_another_institution(served):
    client, tokens, family, app = served
    results: dict[str, Any] = {}
    for attempt in range(20):
        settlement = f"RACE-{attempt}"
        senders = [
            threading.Thread(target=lambda s=settlement: results.__setitem__(
                s + "/d", post(client, tokens["institution"], s, **deduct(family, s, "H-1", "0.01")))),
            threading.Thread(target=lambda s=settlement: results.__setitem__(
                s + "/r", post(client, tokens["institution_2"], "r-" + s, type="reverse", settlement_id=s,
                               reason="not ours"))),
        ]  # fmt: skip
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
    reverses = [results[f"RACE-{n}/r"] for n in range(20)]
    assert all(r.status_code in (403, 404) for r in reverses), [r.text for r in reverses if r.status_code == 200]
    assert not any(type(e).__name__ == "DeductionReversed" for e in app.events.get(app.person_ref(family["child"],
                   "child").id))  # fmt: skip


def test_the_institution_is_on_the_settlements_own_event(served):
    client, tokens, family, app = served
    assert post(client, tokens["institution"], "S-own", **deduct(family, "S-own", "H-1")).status_code == 200
    opened = next(e for e in app.events.get(_settlement_id("S-own")) if isinstance(e, ev.SettlementOpened))
    assert opened.institution == "H-1"


def _settlement_id(settlement_id: str) -> Any:
    from domain.settlement import settlement_aggregate_id

    return settlement_aggregate_id(settlement_id)


# --- 2. command ids per tenant ---------------------------------------------------------------------
def test_another_institutions_command_id_neither_conflicts_probes_nor_replays(served):
    client, tokens, family, _ = served
    # H-2 takes the id H-1 will use for its settlement, with other content:
    taken = post(client, tokens["institution_2"], "S-42", **deduct(family, "S-42-by-h2", "H-2"))
    assert taken.status_code == 200
    real = post(client, tokens["institution"], "S-42", **deduct(family, "S-42", "H-1"))
    assert real.status_code == 200 and "idempotency-replayed" not in real.headers  # decided, not a conflict
    again = post(client, tokens["institution_2"], "S-42", **deduct(family, "S-42", "H-2"))
    assert again.status_code == 409 and again.json()["code"] == "COMMAND_CONFLICT"  # H-2's own id, other content


def test_identical_bodies_from_two_channels_under_one_id_are_two_commands(served):
    client, tokens, family, _ = served
    bind = {"type": "bind", "binder": family["father"], "member": family["grandma"], "relationship": "parent",
            "verification": "face"}  # fmt: skip
    first = post(client, tokens["channel"], "bind-same", **bind, channel="alipay")
    second = post(client, tokens["wechat"], "bind-same", **bind, channel="wechat")
    assert first.status_code == 200 and "idempotency-replayed" not in second.headers
    assert second.json().get("duplicate") is None  # decided for WeChat, not Alipay's answer replayed


def test_a_command_recorded_before_ids_were_scoped_is_still_answered_as_recorded(served):
    """A retry across the upgrade must not be applied twice: the one global record still answers."""
    client, tokens, family, app = served
    body = {"type": "credit", "person": family["father"], "amount": "3.00", "source": "adjustment"}
    first = post(client, tokens["fund"], "before-upgrade", **body)
    record = app.repository.get(command_aggregate_id("before-upgrade", "fund"))
    legacy = CommandRecord._create(
        ev.CommandRecorded,  # type: ignore[arg-type]
        id=command_aggregate_id("legacy-1"),
        command_id="legacy-1",
        command_type="credit",
        fingerprint=record.fingerprint,
        result={**record.result, "command_id": "legacy-1"},
        timestamp=record.modified_on,
    )
    app.save(legacy)
    with app.recorder.tables.transaction() as run:  # as the version before this one left the store
        run("DELETE FROM {ledger_meta} WHERE name = ?", (COMMAND_IDS_SCOPED_FROM,))
    app.scope_command_ids()  # what opening the store does: it may now hold a global record
    balance = app.get_person(family["father"]).balance_fen
    retried = post(client, tokens["fund"], "legacy-1", **body)
    assert first.status_code == 200 and retried.headers.get("idempotency-replayed") == "true"
    assert app.get_person(family["father"]).balance_fen == balance


# --- 3. attribution ------------------------------------------------------------------------------
def test_every_event_records_the_key_that_sent_its_command(served):
    client, tokens, family, app = served
    key_id = client.app.state.service.ledger.keys.key_for_token(tokens["fund"])["key_id"]
    assert post(client, tokens["fund"], "credit-9", type="credit", person=family["father"], amount="1.00",
                source="adjustment").status_code == 200  # fmt: skip
    last = list(app.events.get(app.person_ref(family["father"], "father").id))[-1]
    assert last.sent_by == ev.SentBy(key_id=key_id, role="fund", tenant="fund", command_id="credit-9")


def test_a_command_from_the_command_line_is_attributed_to_the_ledger(app):
    ledger = Ledger(app)
    person = ledger.enroll("110105198001010112")
    event = next(iter(app.events.get(app.person_ref(person, "person").id)))
    assert event.sent_by == ev.SentBy(key_id=None, role="ledger", tenant="ledger", command_id=None)


def test_a_channel_keys_unbind_without_a_channel_is_recorded_with_the_keys_channel(served):
    client, tokens, family, app = served
    bind = {"binder": family["father"], "member": family["grandma"]}
    assert post(client, tokens["channel"], "b-1", type="bind", **bind, relationship="parent", channel="alipay",
                verification="face").status_code == 200  # fmt: skip
    ended = post(client, tokens["wechat"], "u-1", type="unbind", **bind, reason="binder_request")
    assert ended.status_code == 200
    event = next(e for e in app.events.get(app.person_ref(family["father"], "f").id) if isinstance(e, ev.BindingEnded))
    assert event.channel == "wechat" and event.sent_by is not None and event.sent_by.tenant == "channel:wechat"
    other = post(client, tokens["wechat"], "u-2", type="unbind", **bind, reason="binder_request", channel="alipay")
    assert other.status_code == 403  # a body naming another channel than the key's


def test_history_and_audits_show_who_sent_each_change(served):
    client, tokens, family, app = served
    assert post(client, tokens["institution"], "S-who", **deduct(family, "S-who", "H-1")).status_code == 200
    ledger = client.app.state.service.ledger
    audit = ledger.audits.deduction("S-who")
    assert {item["sent_by"]["tenant"] for item in audit["evidence"] if item["type"] == "DeductionSettled"} == {
        "institution:H-1"
    }
    history = ledger.reads.history(app.person_ref(family["child"], "child").id, None, None)
    assert history["timeline"][-1]["sent_by"]["command_id"] == "S-who"


# --- 4. lookups: no oracle, every one logged ------------------------------------------------------
def test_a_lookup_outside_the_region_and_of_a_number_never_enrolled_answer_alike_and_are_logged(served):
    client, tokens, _, app = served
    from tests.support import id_number
    from tests.support.service import OUTSIDER

    beijing = auth(tokens["auditor"], **{"X-Purpose": "probe 110105201501010367"})
    outside = client.post("/v1/persons/lookup", json={"id_number": OUTSIDER}, headers=beijing)
    never = client.post("/v1/persons/lookup", json={"id_number": id_number("420102", "19900101", 77)}, headers=beijing)
    assert outside.status_code == never.status_code == 404
    assert {k: v for k, v in outside.json().items() if k != "instance"} == {
        k: v for k, v in never.json().items() if k != "instance"
    }
    access = client.app.state.service.ledger.access
    outsider_log = access.of_person(str(app.person_ref(OUTSIDER, "o").id))
    assert [(e["endpoint"], e["purpose"]) for e in outsider_log] == [
        ("/v1/persons/lookup (not answered)", "probe 110105********0367")  # the purpose's number masked
    ]


# --- 5. least disclosure to auditors -------------------------------------------------------------
@pytest.fixture
def aided_from_haidian(app):
    """A Dongcheng child whose Haidian aunt pays part of a deduction, sealed; a Dongcheng auditor's key."""
    from tests.support import id_number

    ledger = Ledger(app)
    child, aunt = id_number("110105", "20150101", 36), id_number("110108", "19850707", 46)
    ledger.enroll(child, insurance="resident", balance="1.00", at="2025-03-01T09:00:00+08:00")
    ledger.enroll(aunt, balance="300.00", at="2025-03-01T09:00:00+08:00")
    ledger.ok("authorize", authorizer=aunt, beneficiary=child, relationship="child", at="2025-03-02T09:00:00+08:00")
    ledger.ok("deduct", settlement_id="S-W", patient=child, amount="50.00", category="pharmacy", institution="H-1",
              at="2025-03-10T09:00:00+08:00")  # fmt: skip
    api, tokens = make_server(app, follow_views=False)
    tokens["auditor"] = api.state.service.ledger.keys.create_key("auditor", region="110105")["token"]
    with TestClient(api) as client:
        assert client.post("/v1/seal", headers=auth(tokens["operator"])).status_code == 200
        yield client, tokens, app, child, aunt


def test_a_regional_auditors_bundle_withholds_an_outside_authorizers_history(aided_from_haidian):
    client, tokens, app, _, aunt = aided_from_haidian
    headers = auth(tokens["auditor"], **{"X-Purpose": "dispute 7"})
    bundle = client.get("/v1/settlements/S-W/bundle", headers=headers)
    assert bundle.status_code == 200
    data = json.loads(bundle.content)
    aunt_id = str(app.person_ref(aunt, "aunt").id)
    hers = [e for e in data["events"] if e["originator_id"] == aunt_id]
    assert {e["topic"].split(":")[1] for e in hers if "state" in e} == {"AidDebited"}  # the deduction's own
    assert all(e.get("withheld") for e in hers if "state" not in e) and len(hers) > 1
    assert data["disclosed"][aunt_id]["balance_fen"] == 30000 and data["disclosed"][aunt_id]["masked"].endswith(
        aunt[-4:]
    )
    assert aunt not in bundle.text and "AccountCredited" not in json.dumps([e.get("state") for e in hers])
    checked = client.app.state.service.ledger.evidence.verify_bundle(bundle.content)
    assert checked["ok"] and checked["verdict"] == "consistent", checked["checks"]
    assert next(c for c in checked["checks"] if c["check"] == "disclosed_states")["ok"]
    aunts_log = client.app.state.service.ledger.access.of_person(aunt_id)
    assert [e["endpoint"] for e in aunts_log] == ["/v1/settlements/{settlement_id}/bundle (an authorizer)"]


def test_an_audit_logs_each_authorizer_it_discloses(aided_from_haidian):
    client, tokens, app, _, aunt = aided_from_haidian
    audit = client.get("/v1/settlements/S-W/audit", headers=auth(tokens["auditor"], **{"X-Purpose": "dispute 8"}))
    assert audit.status_code == 200 and audit.json()["verdict"] == "consistent"
    entries = client.app.state.service.ledger.access.of_person(str(app.person_ref(aunt, "aunt").id))
    assert [(e["endpoint"], e["purpose"]) for e in entries] == [
        ("/v1/settlements/{settlement_id}/audit (an authorizer)", "dispute 8")
    ]


def test_the_operators_bundle_withholds_nothing(aided_from_haidian):
    client = aided_from_haidian[0]
    data, _ = client.app.state.service.ledger.audits.bundle("S-W")
    bundle = json.loads(data)
    assert bundle["disclosed"] == {} and all("state" in e for e in bundle["events"])
