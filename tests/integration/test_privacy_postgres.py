"""Privacy at rest on PostgreSQL: after events, snapshots, every view and the audit chain are
written, no table in the ledger's schema holds a plain ID number, nor its 8-digit birth date
next to its region code."""

from __future__ import annotations

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from domain.masking import mask
from infra.audit.chain import seal
from infra.audit.evidence_store import EvidenceStore
from infra.eventstore.application import LedgerApp
from infra.readmodels.runner import ViewRunner
from tests.support import Ledger, id_number
from tests.support.backends import settings_for
from tests.support.seal import SEAL_SEED


def test_no_table_holds_a_plain_id_number(pg_url):
    app = LedgerApp(settings_for(pg_url))
    ledger = Ledger(app)
    parent = ledger.enroll(id_number(seq=11), balance="300.00")
    child = ledger.enroll(id_number(birth="20150101", seq=22), insurance="resident")
    ledger.ok("bind", binder=parent, member=child, relationship="child", channel="alipay", verification="documents")
    ledger.refused(
        "bind",
        "ALREADY_BOUND",
        binder=parent,
        member=child,
        relationship="child",
        channel="alipay",
        verification="documents",
    )
    ledger.ok("authorize", authorizer=parent, beneficiary=child, relationship="child")
    ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=child,
        amount="20.00",
        category="pharmacy",
        institution="P",
        presented_by=parent,
    )
    ledger.ok("reverse", settlement_id="S-1")
    ViewRunner(app).catch_up()
    seal(EvidenceStore(app), "2025-03-04T00:00:00+08:00", seed=SEAL_SEED)
    assert isinstance(app.recorder, PostgresApplicationRecorder)
    schema = app.recorder.datastore.schema
    app.close()

    base, _ = pg_url.split("?", 1)
    with psycopg.connect(base) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
        ]
        dump = "".join(
            str(row)
            for table in tables
            for row in conn.execute(SQL("SELECT * FROM {}.{}").format(Identifier(schema), Identifier(table)))
        )
    # The dump really covers event states, views and chain: the masked form is there.
    assert len(tables) >= 8 and "S-1" in dump and mask(parent) in dump
    for number in (parent, child):
        assert number not in dump
        assert number[:14] not in dump  # region + full birth date
