"""The projection commands end to end, through the `ledger` click group on a SQLite file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from infra.cli.main import main
from infra.eventstore import person_reads
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY, id_number, line
from tests.support.backends import settings_for


@pytest.fixture
def cli(tmp_path, monkeypatch):
    db = str(tmp_path / "cli.db")
    monkeypatch.setenv("LEDGER_DB", db)
    monkeypatch.setenv("LEDGER_PSEUDONYM_KEY", DEV_KEY.decode())
    runner = CliRunner()

    def run(*args: str, input: str | None = None, ok: bool = True):
        result = runner.invoke(main, list(args), input=input)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run.db = db  # type: ignore[attr-defined]
    return run


@pytest.fixture
def family(cli):
    parent, child, other = id_number(seq=11), id_number(birth="20150101", seq=22), id_number(birth="19790101", seq=33)
    lines = [
        line("enroll", person=parent, insurance="employee"),
        line("enroll", person=child, insurance="resident"),
        line("enroll", person=other, insurance="employee"),
        line("credit", person=parent, amount="100.00", source="adjustment"),
        line("bind", binder=parent, member=child, relationship="child", channel="alipay", verification="documents"),
        line("authorize", authorizer=parent, beneficiary=child, relationship="child"),
        line("deduct", settlement_id="S-1", patient=child, amount="30.00", category="pharmacy", institution="P1"),
        line(
            "bind",
            binder=other,
            member=child,
            relationship="other",
            channel="wechat",
            verification="documents",
            at="2025-03-31T16:00:00Z",
        ),
    ]
    cli("apply", "-", input="\n".join(lines) + "\n")
    return {"parent": parent, "child": child, "other": other}


def test_person_queries_read_the_views_with_the_aggregate_shapes(cli, family):
    app = LedgerApp(settings_for(cli.db))
    for command, view in (
        ("bindings", person_reads.bindings_view),
        ("authorizations", person_reads.authorizations_view),
        ("balance", person_reads.balance_view),
    ):
        for number in family.values():
            shown = json.loads(cli(command, number, "--json").output)
            assert shown == view(app.get_person(number))
    app.close()
    assert "Members bound by" in cli("bindings", family["parent"]).output
    detail = json.loads(cli("balance", family["parent"], "--json", "--detail").output)
    assert detail["paid_for_others_fen"] == 3000 and detail["flows"][0]["month"] == "2025-03"
    unknown = cli("balance", id_number(seq=99), "--json", ok=False)
    assert unknown.exit_code == 2 and "UNKNOWN_PERSON" in unknown.output


def test_project_quota_rebuild_and_checksum(cli, family):
    projected = json.loads(cli("project", "--json").output)
    assert set(projected["views"]) == {"persons", "bindings", "authorizations", "quota", "balances", "earmarks"}
    assert all(v["applied"] == v["position"] > 0 for v in projected["views"].values())
    assert all(v["applied"] == 0 for v in json.loads(cli("project", "--json").output)["views"].values())

    quota = json.loads(cli("quota", family["child"], "--month", "2025-04", "--json").output)
    assert quota["new_binders"] == 1 and quota["by_channel"] == {
        "wechat": {"new_members": 0, "new_binders": 1, "unbinds": 0, "authorizations": 0, "rejected": 0}
    }
    assert quota["remaining"]["new_binders"] == 1
    bad_month = cli("quota", family["child"], "--month", "2025-4", "--json", ok=False)
    assert bad_month.exit_code == 2 and "INVALID_INPUT" in bad_month.output

    live = json.loads(cli("checksum", "--json").output)
    rebuilt = json.loads(cli("rebuild", "--json").output)
    assert rebuilt == live and set(rebuilt["views"]["quota"]) == {"rows", "checksum", "events"}
    assert json.loads(cli("rebuild", "quota", "--json").output)["views"] == {"quota": live["views"]["quota"]}
    unknown = cli("rebuild", "nonsense", ok=False)
    assert unknown.exit_code == 2 and "unknown view" in unknown.output


def test_reevaluate_command(cli, family):
    report = json.loads(cli("reevaluate", "--rules", "seed-000", "--json").output)
    assert report["decisions"] == 4 and len(report["changed"]) == 1
    assert report["changed"][0]["reevaluated"] == {"ok": False, "code": "MEMBER_BOUND_ELSEWHERE"}
    human = cli("reevaluate", "--rules", "seed-000").output
    assert "1 would come out differently" in human and "2025-04" in human
    none = json.loads(cli("reevaluate", "--rules", "seed-000", "--to", "2025-03-31", "--json").output)
    assert none["changed"] == []
    bad = cli("reevaluate", "--rules", "nonsense", ok=False)
    assert bad.exit_code == 2 and "UNKNOWN_RULE_VERSION" in bad.output
