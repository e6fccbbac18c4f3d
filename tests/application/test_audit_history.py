"""A person's history: "I was unbound without asking" answered from the events themselves."""

from __future__ import annotations

import json
from datetime import datetime

from click.testing import CliRunner

from infra.audit.evidence_store import EvidenceStore
from infra.audit.history import person_history
from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY, Ledger
from tests.support.backends import settings_for
from tests.support.families import at, deduct, masked, national_family


def story(ledger) -> dict[str, str]:
    f = national_family(ledger)
    ledger.ok(
        "bind",
        binder=f["mother"],
        member=f["child"],
        relationship="child",
        channel="wechat",
        verification="documents",
        at=at(5),
    )
    deduct(ledger, f["child"], "800.00", "S-1", day=10)
    ledger.ok("unbind", binder=f["mother"], member=f["child"], reason="credential_removed", at=at(15))
    return f


def test_timeline_shows_unbind_reason_and_initiator_and_balances(ledger):
    f = story(ledger)
    person = ledger.person(f["mother"])
    result = person_history(ledger.app, EvidenceStore(ledger.app), person.id, None)
    assert result["person"] == masked(f["mother"])
    ended = [t for t in result["timeline"] if t["type"] == "BindingEnded"]
    assert len(ended) == 1
    assert (ended[0]["reason"], ended[0]["initiated_by"], ended[0]["counterpart"]) == (
        "credential_removed",
        "system",
        masked(f["child"]),
    )
    assert "initiated by system" in ended[0]["text"]
    debit = next(t for t in result["timeline"] if t["type"] == "AidDebited")
    assert debit["amount_fen"] == 28_000 and debit["balance_after_fen"] == 2_000
    assert result["state"]["balance_fen"] == 2_000 and result["state"]["bindings"]["members"] == []


def test_state_as_of_a_moment_is_the_prefix_of_the_history(ledger):
    f = story(ledger)
    person = ledger.person(f["mother"])
    moment = datetime.fromisoformat(at(12))
    result = person_history(ledger.app, EvidenceStore(ledger.app), person.id, moment)
    state = result["state"]
    assert state["bindings"]["members"][0]["person"] == masked(f["child"])  # still bound on the 12th
    assert state["balance_fen"] == 2_000  # after the deduction of the 10th
    assert state["authorizations"]["beneficiaries"][0]["person"] == masked(f["child"])
    assert [t["after_as_of"] for t in result["timeline"]][-1] is True
    before_anything = person_history(
        ledger.app, EvidenceStore(ledger.app), person.id, datetime.fromisoformat("2025-01-01T00:00:00+08:00")
    )
    assert before_anything["state"] is None


def test_history_cli_json_and_table(tmp_path):
    url = str(tmp_path / "ledger.db")
    app = LedgerApp(settings_for(url))
    f = story(Ledger(app))
    app.close()
    env = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode()}
    runner = CliRunner()
    as_json = runner.invoke(main, ["--db", url, "history", f["child"], "--as-of", "2025-03-14", "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["state"]["bindings"]["binders"][0]["person"] == masked(f["mother"])
    assert f["child"] not in as_json.output  # masked only
    table = runner.invoke(main, ["--db", url, "history", f["child"]], env=env)
    assert table.exit_code == 0 and "History of " + masked(f["child"]) in table.output
    bad = runner.invoke(main, ["--db", url, "history", f["child"], "--as-of", "2025-03-14T00:00"], env=env)
    assert bad.exit_code == 2 and "INVALID_INPUT" in bad.output
