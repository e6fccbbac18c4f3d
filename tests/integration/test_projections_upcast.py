"""Schema evolution: `BindRejected` is at class_version 2 (it records the explanation given).
Events stored by version-1 code have no `message` and no `class_version`; they are upcast on
read, so aggregates, projections and re-evaluation all read old and new events alike."""

from __future__ import annotations

import json
from datetime import datetime

from eventsourcing.persistence import StoredEvent

from domain import events as ev
from domain.binding import BindRequest, bind
from domain.clock import local_date
from domain.ids import age_on
from infra.readmodels import view_reads
from infra.readmodels.runner import ViewRunner
from infra.whatif.reevaluate import Reevaluator, resolve_rules
from tests.support import Ledger, id_number

AT = "2025-04-01T10:00:00+08:00"


def _store_as_version_1(app, events):
    """Write events exactly as version-1 code wrote them: no `message`, no `class_version`."""
    stored = []
    for event in events:
        record = app.mapper.to_stored_event(event)
        state = json.loads(record.state)
        state.pop("message")
        state.pop("$mac")  # sealed again below, as the ledger seals every event it stores
        assert state.pop("class_version") == 2
        payload = app.mapper.transcoder.encode(state)
        sealed = app.event_macs.sealed(record.originator_id, record.originator_version, record.topic, payload)
        stored.append(StoredEvent(record.originator_id, record.originator_version, record.topic, sealed))
    app.recorder.insert_events(stored)


def test_projections_and_aggregates_read_version_1_bind_rejections(backend_app):
    ledger = Ledger(backend_app)
    app = backend_app
    binder = ledger.enroll(id_number(seq=11))
    adult = ledger.enroll(id_number(birth="19600101", seq=22))
    binder_agg, adult_agg = app.get_person(binder), app.get_person(adult)
    at = datetime.fromisoformat(AT)
    request = BindRequest(
        relationship="parent",
        channel="nhsa_app",
        verification="documents",
        member_age_years=age_on(local_date(datetime(1960, 1, 1)), local_date(at)),
        at=at,
    )
    decision = bind(binder_agg, adult_agg, request, app.rules_for(at, binder_agg.region))
    assert decision.code == "FACE_VERIFICATION_REQUIRED"
    _store_as_version_1(app, [*binder_agg.collect_events(), *adult_agg.collect_events()])

    # aggregates replay the old events
    assert app.get_person(binder).version == binder_agg.version
    # the mapper upcasts: the old event reads with a message built from its code and rule
    notifications = app.recorder.select_notifications(start=1, limit=100)
    old = [app.mapper.to_domain_event(n) for n in notifications if n.topic.endswith("BindRejected")]
    assert len(old) == 2 and all(isinstance(e, ev.BindRejected) for e in old)
    assert "FACE_VERIFICATION_REQUIRED" in old[0].message and "before event version 2" in old[0].message

    # a new rejection is stored at version 2 with the explanation given at the time
    ledger.refused(
        "bind",
        "FACE_VERIFICATION_REQUIRED",
        binder=binder,
        member=adult,
        relationship="parent",
        channel="alipay",
        verification="documents",
        at="2025-04-02T10:00:00+08:00",
    )
    latest = app.recorder.select_notifications(start=1, limit=100)[-2]
    assert json.loads(latest.state)["class_version"] == 2
    assert "must verify by face or counter" in app.mapper.to_domain_event(latest).message

    # projections read both versions
    runner = ViewRunner(app)
    runner.catch_up()
    pid, masked, _ = app.person_ref(binder, "person")
    quota = view_reads.quota_view(runner.views, app.catalogue, pid, masked, "2025-04")
    assert quota["rejected"] == {"FACE_VERIFICATION_REQUIRED": 2}
    assert quota["by_channel"]["nhsa_app"]["rejected"] == 1 and quota["by_channel"]["alipay"]["rejected"] == 1

    # and so does re-evaluation
    name, catalogue = resolve_rules("national")
    assert Reevaluator(app, name, catalogue).run().changed == []
