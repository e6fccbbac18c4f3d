"""Rules that change under the same label, and what-if decisions written into the live ledger.

The attacks: a catalogue copy given with `--rules-dir` raises a limit and changes the spending
order of `national-2024-12-09` but keeps its label; `ledger apply --rules seed-002` decides real
lines under a what-if variant. Every decision records the digest of the rule content it was made
under (`rule_digest`), so the audit replay, `verify-bundle` and `reevaluate --rules recorded`
report RULES_CHANGED; a what-if never stores anything. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain import events as ev
from infra.audit import chain
from infra.audit.bundle import build_bundle
from infra.audit.bundle_check import verify_bundle
from infra.audit.evidence_store import EvidenceStore
from infra.audit.replay import audit_deduction
from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from infra.eventstore.rule_files import catalogue_files, load_catalogue
from infra.whatif.reevaluate import RECORDED, Reevaluator
from tests.support import DEV_KEY, Ledger, apply_line, id_number, line
from tests.support.backends import settings_for
from tests.support.families import deduct, national_family, record_wrong_split
from tests.support.seal import SEAL_SEED

LABEL = "national-2024-12-09"


def changed_catalogue(directory: Path) -> str:
    """A copy of the shipped catalogue where the national rules changed but kept their label."""
    directory.mkdir()
    for name, text in catalogue_files().items():
        if name == f"{LABEL}.toml":
            text = text.replace('order = "largest_balance_first"', 'order = "most_recent_first"')
            text = text.replace("members_active_max = 5 ", "members_active_max = 50 ")
            assert "most_recent_first" in text and "members_active_max = 50" in text
        (directory / name).write_text(text, encoding="utf-8")
    return str(directory)


def app_on(url: str, rules_dir: str | None = None, rules_override: str | None = None) -> LedgerApp:
    settings = settings_for(url)
    if rules_dir:
        from dataclasses import replace

        settings = replace(settings, rules_dir=rules_dir)
    return LedgerApp(settings, rules_override=rules_override)


@pytest.fixture
def story(durable_url, tmp_path):
    """S-1 decided under the shipped rules, then the ledger reopened on the changed copy."""
    original = app_on(durable_url)
    f = national_family(Ledger(original))
    deduct(Ledger(original), f["child"], "800.00", "S-1")
    original.close()
    changed = app_on(durable_url, changed_catalogue(tmp_path / "rules"))
    yield durable_url, changed, f
    changed.close()


def test_every_decision_records_the_digest_of_its_rule_content(durable_url):
    app = app_on(durable_url)
    f = national_family(Ledger(app))
    deduct(Ledger(app), f["child"], "800.00", "S-1")
    shipped = load_catalogue().get(LABEL).digest
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=1000)]
    carrying = [e for e in events if hasattr(e, "rule_version")]
    assert {type(e).__name__ for e in carrying} == {
        "AuthorizationGranted",
        "DeductionSettled",
        "AidDebited",
        "SettlementOpened",
    }
    assert {getattr(e, "rule_digest", None) for e in carrying} == {shipped} and len(shipped) == 64
    app.close()


def test_a_changed_catalogue_under_the_same_label_is_rules_changed_in_the_audit_replay(story):
    _, app, _ = story
    result, _, _ = audit_deduction(app, EvidenceStore(app), "S-1")
    recorded, current = load_catalogue().get(LABEL).digest, app.catalogue.get(LABEL).digest
    assert recorded != current
    assert result["rules_changed"] == {
        "code": "RULES_CHANGED",
        "rule_version": LABEL,
        "recorded_digest": recorded,
        "current_digest": current,
    }
    assert result["verdict"] == "mismatch"
    assert any(d.startswith("RULES_CHANGED") and recorded in d and current in d for d in result["differences"])


def test_new_decisions_under_the_changed_content_are_told_apart_by_their_digest(story):
    _, app, f = story
    deduct(Ledger(app), f["child"], "10.00", "S-2", day=11)
    settled = {
        e.settlement_id: e
        for e in (app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=1000))
        if isinstance(e, ev.DeductionSettled)
    }
    assert settled["S-1"].rule_version == settled["S-2"].rule_version == LABEL
    assert settled["S-1"].rule_digest != settled["S-2"].rule_digest == app.catalogue.get(LABEL).digest


def test_verify_bundle_reports_rules_changed(story, tmp_path):
    url, app, _ = story
    chain.seal(EvidenceStore(app), "2025-04-01T00:00:00+00:00", seed=SEAL_SEED)
    # a bundle built on the changed catalogue: its rule set is not the content recorded
    data, _ = build_bundle(app, EvidenceStore(app), "S-1")
    checked = verify_bundle(data, load_catalogue())
    assert not checked["ok"]
    bad = {c["check"]: c["detail"] for c in checked["checks"] if not c["ok"]}
    assert "rule_digest" in bad and bad["rule_digest"].startswith("RULES_CHANGED") and LABEL in bad["rule_digest"]
    # a bundle built on the shipped catalogue, checked against the changed local copy
    original = app_on(url)
    data, _ = build_bundle(original, EvidenceStore(original), "S-1")
    original.close()
    assert verify_bundle(data, load_catalogue())["ok"]
    checked = verify_bundle(data, app.catalogue)
    bad = {c["check"]: c["detail"] for c in checked["checks"] if not c["ok"]}
    assert set(bad) == {"rule_set_as_shipped"} and bad["rule_set_as_shipped"].startswith("RULES_CHANGED")


def test_reevaluate_recorded_reports_rules_changed(story):
    _, app, _ = story
    report = Reevaluator(app, RECORDED, app.catalogue).run().to_dict()
    recorded, current = load_catalogue().get(LABEL).digest, app.catalogue.get(LABEL).digest
    assert report["rules_changed"] == [
        {
            "code": "RULES_CHANGED",
            "rule_version": LABEL,
            "recorded_digest": recorded,
            "current_digest": current,
            "decisions": 4,
        }
    ]
    assert report["digests_not_recorded"] == 0
    fine = Reevaluator(app, RECORDED, load_catalogue()).run().to_dict()
    assert fine["rules_changed"] == [] and fine["changed"] == []


def test_an_older_decision_without_a_digest_is_not_compared_and_says_so(durable_url):
    app = app_on(durable_url)
    record_wrong_split(Ledger(app))  # written like an event of before rule digests: no rule_digest
    result, _, _ = audit_deduction(app, EvidenceStore(app), "S-BAD")
    assert result["rules_changed"] is None
    assert result["rule_digest"]["recorded"] is None and "not compared" in result["rule_digest"]["note"]
    report = Reevaluator(app, RECORDED, app.catalogue).run().to_dict()
    assert report["rules_changed"] == [] and report["digests_not_recorded"] == 1
    app.close()


# --- what-if never writes -------------------------------------------------------------------------
def test_a_what_if_app_refuses_to_store_anything(durable_url):
    live = app_on(durable_url)
    parent = Ledger(live).enroll(id_number(seq=11))
    live.close()
    what_if = app_on(durable_url, rules_override="seed-002")
    with pytest.raises(Exception, match="what-if"):
        apply_line(
            what_if, line("enroll", person=id_number(seq=13), insurance="employee", at="2025-01-02T09:00:00+08:00")
        )
    what_if.close()
    again = app_on(durable_url)
    assert again.recorder.max_notification_id() == 1  # only the first enrolment
    assert Ledger(again).person(parent).status == "active"
    again.close()


def test_apply_with_rules_is_a_dry_run_that_stores_nothing(tmp_path):
    db = str(tmp_path / "ledger.db")
    env = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode()}
    parent, child = id_number(seq=11), id_number(birth="20150101", seq=22)
    setup = [
        line("enroll", person=parent, insurance="employee", at="2025-01-02T09:00:00+08:00"),
        line("enroll", person=child, insurance="resident", at="2025-01-02T09:00:00+08:00"),
    ]
    assert CliRunner().invoke(main, ["--db", db, "apply", "-"], input="\n".join(setup) + "\n", env=env).exit_code == 0
    count = sqlite3.connect(db).execute("SELECT count(*) FROM stored_events").fetchone()[0]
    what_if = [
        line(
            "bind",
            binder=parent,
            member=child,
            relationship="child",
            channel="alipay",
            verification="documents",
            command_id="w-1",
        ),
        line("credit", person=parent, amount="10.00", source="adjustment"),
        line("credit", person=parent, amount="oops", source="adjustment"),
    ]
    result = CliRunner().invoke(
        main, ["--db", db, "apply", "--rules", "seed-002", "-"], input="\n".join(what_if) + "\n", env=env
    )
    assert result.exit_code == 0, result.output
    answers = [json.loads(text) for text in result.stdout.splitlines()]
    assert [a["ok"] for a in answers] == [True, True, False]
    assert all(a["dry_run"] is True for a in answers)
    assert answers[0]["rule_version"].startswith("seed-002+") and answers[1]["balance_fen"] == 1000
    assert sqlite3.connect(db).execute("SELECT count(*) FROM stored_events").fetchone()[0] == count
    # and the command id was not used up: the real line is decided for real later
    real = CliRunner().invoke(main, ["--db", db, "apply", "-"], input=what_if[0] + "\n", env=env)
    answer = json.loads(real.stdout)
    assert answer["ok"] and not answer.get("duplicate") and answer["rule_version"] == LABEL and "dry_run" not in answer
