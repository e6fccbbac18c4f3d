"""The key stories on every backend (memory, SQLite, PostgreSQL) via `any_backend_ledger`, plus
what only a real database can show: a fresh application rebuilds the same state, and no stored
row holds a plain ID number."""

from __future__ import annotations

import sqlite3
import uuid

import psycopg

from infra.eventstore.application import LedgerApp
from tests.support import Ledger
from tests.support.backends import postgres_base_url, settings_for
from tests.support.state import adult, event_names, masked, minor, snapshot

T = "2025-03-10T10:00:00+08:00"


def family(ledger: Ledger) -> tuple[str, str, str]:
    father = ledger.enroll(adult(1), balance="300.00")
    mother = ledger.enroll(adult(2), balance="500.00")
    child = ledger.enroll(minor(20), insurance="resident", balance="20.00")
    return father, mother, child


def story(ledger: Ledger) -> tuple[str, ...]:
    """Bindings, a recorded rejection, mutual aid, a split deduction, a duplicate, a reversal."""
    father, mother, child = family(ledger)
    uncle = ledger.enroll(adult(5, birth="19700101"))
    for binder in (father, mother):
        ledger.ok("bind", binder=binder, member=child, relationship="child", channel="alipay", verification="documents")
    ledger.refused(
        "bind",
        "MEMBER_MONTHLY_BINDERS_LIMIT",
        binder=uncle,
        member=child,
        relationship="other",
        channel="counter",
        verification="documents",
    )
    ledger.ok("authorize", authorizer=father, beneficiary=child, relationship="child", at="2025-03-04T09:00:00+08:00")
    ledger.ok("authorize", authorizer=mother, beneficiary=child, relationship="child", at="2025-03-05T09:00:00+08:00")
    ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=child,
        amount="600.00",
        category="hospital_self_pay",
        institution="H1",
        presented_by=mother,
        at=T,
    )
    ledger.ok("deduct", settlement_id="S-2", patient=child, amount="50.00", category="pharmacy", institution="P1", at=T)
    ledger.ok("reverse", settlement_id="S-2", reason="returned", at="2025-03-11T10:00:00+08:00")
    return father, mother, child, uncle


def test_bind_limits_and_recorded_rejections_on_every_backend(any_backend_ledger):
    ledger = any_backend_ledger
    _father, _mother, child, uncle = story(ledger)
    assert len(ledger.person(child).binders) == 2
    assert ledger.person(uncle).members == {}
    assert event_names(ledger, uncle)[-1] == "BindRejected"
    assert event_names(ledger, child).count("BindRejected") == 1


def test_deduction_split_duplicate_conflict_and_reversal_on_every_backend(any_backend_ledger):
    ledger = any_backend_ledger
    father, mother, child, _ = story(ledger)
    # S-1: child 20 yuan, then mother (500, the larger balance), then father 80; S-2 reversed.
    assert (ledger.balance(child), ledger.balance(mother), ledger.balance(father)) == (0, 0, 22_000)
    before = snapshot(ledger, father, mother, child)
    again = ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=child,
        amount="600.00",
        category="hospital_self_pay",
        institution="H1",
        presented_by=mother,
        at="2025-03-20T10:00:00+08:00",
    )
    assert again["duplicate"] is True
    assert again["lines"] == [
        {"person": masked(child), "amount_fen": 2_000},
        {"person": masked(mother), "amount_fen": 50_000},
        {"person": masked(father), "amount_fen": 8_000},
    ]
    ledger.refused(
        "deduct",
        "SETTLEMENT_CONFLICT",
        settlement_id="S-1",
        patient=child,
        amount="601.00",
        category="hospital_self_pay",
        institution="H1",
        at=T,
    )
    ledger.refused("reverse", "ALREADY_REVERSED", settlement_id="S-2", at="2025-03-20T10:00:00+08:00")
    ledger.refused("reverse", "UNKNOWN_SETTLEMENT", settlement_id="S-404")
    assert snapshot(ledger, father, mother, child) == before


def test_cancel_ends_every_tie_on_every_backend(any_backend_ledger):
    ledger = any_backend_ledger
    father, mother, child, _ = story(ledger)
    result = ledger.ok("cancel", person=child, at="2025-03-20T10:00:00+08:00")
    assert result["ended"] == {"bindings": 2, "authorizations": 2}
    for parent in (father, mother):
        assert ledger.person(parent).members == {} and ledger.person(parent).beneficiaries == {}
        assert event_names(ledger, parent)[-2:] == ["BindingEnded", "AuthorizationEnded"]


def test_a_fresh_application_rebuilds_the_same_state(durable_url):
    first = LedgerApp(settings_for(durable_url))
    people = story(Ledger(first))
    before = snapshot(Ledger(first), *people)
    first.close()
    second = LedgerApp(settings_for(durable_url))
    try:
        assert snapshot(Ledger(second), *people) == before
    finally:
        second.close()


def stored_text(url: str) -> str:
    """Every stored row, as text: the whole SQLite file, or every table of the PostgreSQL schema."""
    if not url.startswith("postgresql://"):
        with sqlite3.connect(url) as conn:
            conn.execute("PRAGMA wal_checkpoint(FULL)")
        with open(url, "rb") as handle:
            return handle.read().decode("latin-1")
    import psycopg

    base, schema = url.split("?schema=")
    chunks = []
    with psycopg.connect(base) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        assert tables
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                chunks += [bytes(v).decode("latin-1") if isinstance(v, (bytes, memoryview)) else str(v) for v in row]
    return "\n".join(chunks)


def test_no_plain_id_number_is_stored(durable_url):
    app = LedgerApp(settings_for(durable_url))
    people = story(Ledger(app))
    app.close()
    text = stored_text(durable_url)
    assert masked(people[0]) in text  # the search can see stored event content at all
    for number in people:
        assert number not in text
        assert number[:17] not in text


def test_a_named_postgres_schema_is_created_on_first_use():
    base = postgres_base_url()
    schema = f"t_new_{uuid.uuid4().hex[:10]}"
    app = LedgerApp(settings_for(f"{base}?schema={schema}"))
    try:
        app.close()
        with psycopg.connect(base) as conn:
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
                )
            }
        assert "familyledger_events" in tables
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
