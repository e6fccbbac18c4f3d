"""Evidence an insider cannot rewrite: the attacks of the evidence issue, by someone with plain SQL
access to the whole database but neither the seal key nor the pseudonym key, on SQLite and
PostgreSQL, each through the `ledger` command as an operator would check.

Reproduced findings (each left `ledger verify --public-key PUB --anchor ANCHOR` at exit 0):
1. a snapshot's `balance_fen` rewritten to 5,000,000.00 yuan paid a 40,000.00 yuan deduction in
   full, and the online audit called it consistent;
2. the access log and the key log erased: both tables dropped, both emptied, both cut back to the
   first access checkpoint; the key log emptied and an `admin` key row inserted (which then
   authenticated).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from infra.access.access_log import AccessLog
from infra.access.keys import KeyStore
from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from infra.readmodels import view_reads
from infra.readmodels.runner import ViewRunner
from infra.storage.base import LedgerRecorder
from tests.support import DEV_KEY, Ledger, last_json
from tests.support.backends import settings_for
from tests.support.state import adult, minor
from tests.support.tamper import tamper_for

SEED = "5eed" * 16
ENV = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), "LEDGER_SEAL_KEY": SEED, "LEDGER_SEAL_PUBLIC_KEY": ""}
AUNT, NIECE = adult(31), minor(32)
T = "2025-03-10T10:00:00+08:00"


def run(url: str, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", url, *args], env=ENV)


def seal(url: str) -> str:
    sealed = run(url, "seal", "--json")
    assert sealed.exit_code == 0, sealed.output
    return last_json(sealed.output)["checkpoint"]["checkpoint_sha256"]


def public_key(url: str) -> str:
    return last_json(run(url, "seal-key", "--json").output)["public_key"]


def verified(url: str, anchor: str) -> tuple[int, dict[str, Any]]:
    result = run(url, "verify", "--public-key", public_key(url), "--anchor", anchor, "--json")
    return result.exit_code, last_json(result.output)


def kinds(result: dict[str, Any]) -> set[str]:
    """Every problem's kind, in every part verify checks."""
    found = {p["kind"] for p in result["problems"]}
    for part in ("events", "access_log", "key_log", "keys", "snapshots"):
        section = result.get(part) or {}
        found |= {p["kind"] for p in section.get("problems", []) if isinstance(p, dict)}
    return found


def snapshot_table(app: LedgerApp) -> str:
    snapshots = app.snapshots
    assert snapshots is not None
    return snapshots.recorder.events_table_name  # type: ignore[attr-defined]


# --- 1. a forged snapshot ------------------------------------------------------------------------
@pytest.fixture
def forged_snapshot(durable_url: str) -> Iterator[tuple[str, str]]:
    """The aunt has 205 credits of 0.01 (a snapshot at version 200) and aids her niece; sealed; then
    the insider writes 5,000,000.00 yuan into that snapshot's balance."""
    app = LedgerApp(settings_for(durable_url))
    ledger = Ledger(app)
    ledger.enroll(AUNT, at="2025-03-01T09:00:00+08:00")
    for n in range(205):
        ledger.ok(
            "credit",
            person=AUNT,
            amount="0.01",
            source="adjustment",
            at=f"2025-03-02T09:{n // 60:02d}:{n % 60:02d}+08:00",
        )
    ledger.enroll(NIECE, insurance="resident", at="2025-03-03T09:00:00+08:00")
    ledger.ok("authorize", authorizer=AUNT, beneficiary=NIECE, relationship="child", at="2025-03-03T10:00:00+08:00")
    table = snapshot_table(app)
    app.close()
    anchor = seal(durable_url)
    tamper = tamper_for(durable_url, table)
    rows = tamper._run((f"SELECT originator_id, originator_version, state FROM {table}", ()))[0]
    assert [version for _, version, _ in rows] == [200]
    _oid, version, state = rows[0]
    stored = json.loads(bytes(state) if not isinstance(state, str) else state.encode())
    assert stored["state"]["balance_fen"] == 199  # the enrolment and 199 credits
    stored["state"]["balance_fen"] = 500_000_000
    forged = json.dumps(stored, sort_keys=True, separators=(",", ":")).encode()
    mark = "?" if "postgres" not in durable_url else "%s"
    tamper._run((f"UPDATE {table} SET state = {mark} WHERE originator_version = {mark}", (forged, version)))
    yield durable_url, anchor


def test_a_forged_snapshot_pays_out_nothing_that_never_existed(forged_snapshot):
    url, _ = forged_snapshot
    app = LedgerApp(settings_for(url))
    answer = Ledger(app).ok("deduct", settlement_id="FORGED-1", patient=NIECE, amount="40000.00",
                            category="hospital_self_pay", institution="H-1", at=T)  # fmt: skip
    app.close()
    paid_by_aunt = sum(line["amount_fen"] for line in answer["lines"] if line["person"] != answer["patient"])
    assert paid_by_aunt == 205  # the aunt's real balance, decided from her events
    assert answer["out_of_pocket_fen"] == 4_000_000 - 205


def test_verify_names_the_forged_snapshot(forged_snapshot):
    url, anchor = forged_snapshot
    code, result = verified(url, anchor)
    assert code == 1 and result["ok"] is False
    assert "snapshot" in kinds(result)


def test_the_audit_of_a_deduction_replays_from_events_not_from_the_forged_snapshot(forged_snapshot):
    url, _ = forged_snapshot
    app = LedgerApp(settings_for(url))
    Ledger(app).ok("deduct", settlement_id="FORGED-2", patient=NIECE, amount="1.00", category="pharmacy",
                   institution="H-1", at=T)  # fmt: skip
    app.close()
    audit = run(url, "audit", "deduction", "FORGED-2", "--json")
    result = last_json(audit.output)
    assert audit.exit_code == 0 and result["verdict"] == "consistent"
    aunt = next(c for c in result["candidates"] if c["role"] == "authorizer")
    assert aunt["balance_before_fen"] == 205


def test_a_forged_snapshot_is_counted_when_it_is_refused(forged_snapshot):
    url, _ = forged_snapshot
    app = LedgerApp(settings_for(url))
    app.get_person(AUNT)
    assert app.snapshot_refusals == 1
    app.close()


# --- 2. erased access and key logs ----------------------------------------------------------------
@pytest.fixture
def two_seals(durable_url: str) -> Iterator[tuple[str, str, Any]]:
    """Reads logged and keys made, sealed twice (more reads and a key in between)."""
    app = LedgerApp(settings_for(durable_url))
    Ledger(app).enroll(AUNT, balance="10.00")
    access = AccessLog(app.recorder, app.settings.pseudonym_key)
    for n in range(3):
        access.record({"key_id": "k-auditor", "role": "auditor"}, f"person-{n}", "/v1/persons/{person_ref}", "audit")
    app.close()
    assert run(durable_url, "keys", "create", "--role", "auditor", "--region", "11").exit_code == 0
    seal(durable_url)
    app = LedgerApp(settings_for(durable_url))
    access = AccessLog(app.recorder, app.settings.pseudonym_key)
    for n in range(2):
        access.record({"key_id": "k-auditor", "role": "auditor"}, f"person-{n}", "/v1/persons/{person_ref}", "again")
    app.close()
    assert run(durable_url, "keys", "create", "--role", "operator").exit_code == 0
    anchor = seal(durable_url)
    code, result = verified(durable_url, anchor)
    assert code == 0 and result["ok"], result
    yield durable_url, anchor, tamper_for(durable_url)


@pytest.mark.parametrize(
    "erase",
    [
        ("DROP TABLE ledger_access_log", "DROP TABLE ledger_access_checkpoints"),
        ("DELETE FROM ledger_access_log", "DELETE FROM ledger_access_checkpoints"),
        # cut back to the first seal: entries already sealed disappear
        (
            "DELETE FROM ledger_access_log WHERE sequence > 3",
            "DELETE FROM ledger_access_checkpoints WHERE sequence > 3",
        ),
    ],
    ids=["dropped", "emptied", "cut back"],
)
def test_an_erased_access_log_fails_verify(two_seals, erase):
    url, anchor, tamper = two_seals
    for statement in erase:
        tamper.execute(statement)
    code, result = verified(url, anchor)
    assert code == 1 and "access_log" in kinds(result)


def test_an_emptied_key_log_and_a_minted_admin_key_fail_verify_and_the_key_does_not_work(two_seals):
    url, anchor, tamper = two_seals
    token = "lk_minted-by-an-insider"
    tamper.execute("DELETE FROM ledger_api_key_log")
    tamper.execute(
        "INSERT INTO ledger_api_keys (key_id, token_sha256, role, created_at) VALUES (?, ?, 'admin', ?)",
        ("k_minted", hashlib.sha256(token.encode()).hexdigest(), "2025-03-01T00:00:00+00:00"),
    )
    code, result = verified(url, anchor)
    assert code == 1 and {"key_log", "keys"} <= kinds(result)
    app = LedgerApp(settings_for(url))
    assert KeyStore(app.recorder, app.settings.pseudonym_key).key_for_token(token) is None
    app.close()


def test_a_key_row_inserted_by_sql_never_authenticates(durable_url):
    app = LedgerApp(settings_for(durable_url))
    store = KeyStore(app.recorder, app.settings.pseudonym_key)
    token = "lk_minted"
    recorder: LedgerRecorder = app.recorder
    with recorder.tables.transaction() as sql:
        sql(
            "INSERT INTO {ledger_api_keys} (key_id, token_sha256, role, created_at) VALUES (?, ?, 'admin', ?)",
            ("k_minted", hashlib.sha256(token.encode()).hexdigest(), "2025-03-01T00:00:00+00:00"),
        )
    assert store.key_for_token(token) is None
    app.close()


# --- 3. an event added by SQL after the last seal (found attacking this change) ------------------
def events_table(url: str) -> str:
    return "familyledger_events" if "postgres" in url else "stored_events"


def add_event_by_sql(url: str, app: LedgerApp, person: str, amount_fen: int, *, keep_mac: bool) -> int:
    """Copy the person's last credit as their next event, for `amount_fen`, at the next position:
    with its old MAC (now wrong) or with the MAC taken out. Returns the position."""
    tamper = tamper_for(url)
    table, mark = events_table(url), ("%s" if "postgres" in url else "?")
    oid = app.person_ref(person, "person").id
    key = str(oid) if "postgres" in url else oid.hex
    rows = tamper._run((f"SELECT originator_version, topic, state FROM {table} WHERE originator_id = {mark} "
                        "ORDER BY originator_version", (key,)))[0]  # fmt: skip
    last = max(version for version, _, _ in rows)
    _, topic, state = next(row for row in reversed(rows) if row[1].endswith("AccountCredited"))
    text = bytes(state).decode()
    assert text.startswith('{"$mac":"')  # every event the ledger stores carries its MAC
    payload = json.loads(text)
    payload["amount_fen"] = amount_fen
    if not keep_mac:
        del payload["$mac"]
    forged = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    column = "notification_id" if "postgres" in url else "rowid"
    position = tamper._run((f"SELECT max({column}) FROM {table}", ()))[0][0][0] + 1
    tamper.insert(position, key, last + 1, topic, forged)
    return position


@pytest.fixture(params=["mac kept", "mac removed"])
def forged_event(request, durable_url: str) -> Iterator[tuple[str, str, int]]:
    """The aunt has 10.00 yuan and aids her niece; sealed; then the insider adds a credit of
    5,000,000.00 yuan to her history by SQL."""
    app = LedgerApp(settings_for(durable_url))
    ledger = Ledger(app)
    ledger.enroll(AUNT, balance="10.00", at="2025-03-01T09:00:00+08:00")
    ledger.enroll(NIECE, insurance="resident", at="2025-03-03T09:00:00+08:00")
    ledger.ok("authorize", authorizer=AUNT, beneficiary=NIECE, relationship="child", at="2025-03-03T10:00:00+08:00")
    app.close()
    anchor = seal(durable_url)
    app = LedgerApp(settings_for(durable_url))
    position = add_event_by_sql(durable_url, app, AUNT, 500_000_000, keep_mac=request.param == "mac kept")
    app.close()
    yield durable_url, anchor, position


def test_an_event_added_by_sql_decides_nothing(forged_event):
    url, _, _ = forged_event
    app = LedgerApp(settings_for(url))
    answer = Ledger(app).do("deduct", settlement_id="FORGED-3", patient=NIECE, amount="40000.00",
                            category="hospital_self_pay", institution="H-1", at=T)  # fmt: skip
    app.close()
    assert answer["ok"] is False and answer["error"]["code"] == "EVENT_NOT_PROVEN"


def test_an_event_added_by_sql_is_never_sealed(forged_event):
    url, _, position = forged_event
    sealed = run(url, "seal", "--json")
    assert sealed.exit_code == 2 and "SEAL_REFUSED" in sealed.output and f"positions {position}" in sealed.output


def test_verify_names_the_event_added_by_sql(forged_event):
    url, anchor, position = forged_event
    code, result = verified(url, anchor)
    assert code == 1 and "event_mac" in kinds(result)
    assert [p["position"] for p in result["events"]["problems"]] == [position]


# --- 4. variants: other snapshot fields and rows, reordering, an old checkpoint replayed --------
def forge_snapshot(url: str, table: str, change: Any) -> None:
    """Apply `change(row)` to the one snapshot row: a dict of its columns, with `state` as JSON."""
    tamper, mark = tamper_for(url, table), ("%s" if "postgres" in url else "?")
    oid, version, state = tamper._run((f"SELECT originator_id, originator_version, state FROM {table}", ()))[0][0]
    row = {"originator_id": oid, "originator_version": version, "state": json.loads(bytes(state))}
    change(row)
    forged = json.dumps(row["state"], sort_keys=True, separators=(",", ":")).encode()
    tamper._run(
        (f"UPDATE {table} SET originator_id = {mark}, originator_version = {mark}, state = {mark}",
         (row["originator_id"], row["originator_version"], forged)),
    )  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        lambda row: row.update(originator_version=204),  # claims a later version: replays fewer events
        lambda row: row["state"].update(timestamp="2030-01-01T00:00:00+00:00"),
        lambda row: row["state"]["state"].update(status="cancelled"),
        lambda row: row["state"].update(mac="0" * 64),
    ],
    ids=["version", "timestamp", "status", "mac"],
)
def test_a_snapshot_with_any_field_changed_is_refused_and_named(forged_snapshot, change):
    url, anchor = forged_snapshot
    app = LedgerApp(settings_for(url))
    table = snapshot_table(app)
    app.close()
    forge_snapshot(url, table, lambda row: row["state"]["state"].update(balance_fen=199))  # undo the balance
    forge_snapshot(url, table, change)
    app = LedgerApp(settings_for(url))
    assert app.get_person(AUNT).balance_fen == 205 and app.snapshot_refusals == 1
    app.close()
    code, result = verified(url, anchor)
    assert code == 1 and "snapshot" in kinds(result)


def test_a_snapshot_moved_to_another_person_is_refused(forged_snapshot):
    url, anchor = forged_snapshot
    app = LedgerApp(settings_for(url))
    table, niece = snapshot_table(app), app.person_ref(NIECE, "person").id
    app.close()
    forge_snapshot(url, table, lambda row: row.update(originator_id=str(niece) if "postgres" in url else niece.hex))
    app = LedgerApp(settings_for(url))
    assert app.get_person(NIECE).balance_fen == 0 and app.snapshot_refusals == 1
    app.close()
    assert "snapshot" in kinds(verified(url, anchor)[1])


def test_two_access_entries_swapped_fail_verify(two_seals):
    url, anchor, tamper = two_seals
    mark = "%s" if "postgres" in url else "?"
    rows = tamper._run(("SELECT sequence, person, purpose FROM ledger_access_log ORDER BY sequence", ()))[0]
    (_, p1, u1), (_, p2, u2) = rows[0], rows[1]
    tamper.execute(f"UPDATE ledger_access_log SET person = {mark}, purpose = {mark} WHERE sequence = 1", (p2, u2))
    tamper.execute(f"UPDATE ledger_access_log SET person = {mark}, purpose = {mark} WHERE sequence = 2", (p1, u1))
    code, result = verified(url, anchor)
    assert code == 1 and "access_log" in kinds(result)


def test_the_last_checkpoint_removed_with_what_it_covered_fails_against_the_anchor(two_seals):
    """The insider goes back to the first seal: the second checkpoint and everything after the
    first one's covers are deleted, so the store is exactly as it was then, except for the anchor."""
    url, anchor, tamper = two_seals
    first = tamper._run(("SELECT covers FROM audit_checkpoints ORDER BY sequence", ()))[0][0][0]
    covers = json.loads(first)
    tamper.execute("DELETE FROM audit_checkpoints WHERE sequence > 1")
    tamper.execute(f"DELETE FROM ledger_access_log WHERE sequence > {covers['access_log']['sequence']}")
    tamper.execute(f"DELETE FROM ledger_api_key_log WHERE sequence > {covers['key_log']['sequence']}")
    tamper.execute("DELETE FROM ledger_api_keys WHERE role = 'operator'")
    code, result = verified(url, anchor)
    assert code == 1 and "anchor" in kinds(result)


def test_an_old_checkpoint_row_replayed_as_the_newest_fails_verify(two_seals):
    url, anchor, tamper = two_seals
    rows = tamper._run(("SELECT sequence, covers, signature FROM audit_checkpoints ORDER BY sequence", ()))[0]
    (_, old_covers, old_signature), last = rows[0], rows[-1][0]
    mark = "%s" if "postgres" in url else "?"
    tamper.execute(
        f"UPDATE audit_checkpoints SET covers = {mark}, signature = {mark} WHERE sequence = {mark}",
        (old_covers, old_signature, last),
    )
    code, result = verified(url, anchor)
    assert code == 1 and "signature" in kinds(result)


def test_a_revoked_key_restored_from_its_old_row_does_not_authenticate(durable_url):
    """The old row still has a valid MAC (it was the ledger's row, before the revocation): the
    key log's revocation decides, and verify names the row."""
    app = LedgerApp(settings_for(durable_url))
    keys = KeyStore(app.recorder, app.settings.pseudonym_key)
    made = keys.create_key("admin")
    tamper = tamper_for(durable_url)
    mark = "%s" if "postgres" in durable_url else "?"
    old_mac = tamper._run((f"SELECT row_mac FROM ledger_api_keys WHERE key_id = {mark}", (made["key_id"],)))[0][0][0]
    assert keys.revoke_key(made["key_id"]) and keys.key_for_token(made["token"]) is None
    tamper.execute(
        f"UPDATE ledger_api_keys SET revoked_at = NULL, row_mac = {mark} WHERE key_id = {mark}",
        (old_mac, made["key_id"]),
    )
    assert keys.key_for_token(made["token"]) is None
    app.close()
    code, result = verified(durable_url, seal(durable_url))
    assert code == 1 and "keys" in kinds(result)


def test_the_views_skip_an_event_added_by_sql(forged_event):
    url, _, _ = forged_event
    app = LedgerApp(settings_for(url))
    runner = ViewRunner(app)
    runner.catch_up()
    ref = app.person_ref(AUNT, "person")
    balance = view_reads.balance_view(runner.views, ref.id, ref.masked)
    skipped = runner.unproven
    app.close()
    assert skipped == 1 and balance["balance_fen"] == 1000  # the 10.00 yuan, not the forged 5,000,000.00
