"""Who is who, and who is tied to whom: persons, current bindings, active authorizations.

A binding or authorization is recorded on both people (one event each, same save). Each event
writes the columns it knows (the other side's masked number comes from the *other* event), with
an upsert, so the row ends the same whichever of the two events is processed first.
"""

from __future__ import annotations

from domain import events as ev
from domain.clock import local_iso
from projections._time import epoch_us, parse
from projections.base import LedgerProjection, Record, handles
from projections.changes import PageChanges
from projections.tables import Table


def _since(e: Record) -> dict[str, object]:
    at = parse(e["timestamp"])
    return {"since": local_iso(at), "since_us": epoch_us(at)}


class PersonsProjection(LedgerProjection):
    name = "persons"
    title = "enrolled persons: masked number, region, insurance, status"
    tables = (
        Table(
            "persons",
            (
                ("person", "text"),
                ("masked", "text"),
                ("region", "text"),
                ("insurance", "text"),
                ("status", "text"),
                ("enrolled_at", "text"),
            ),
            key=("person",),
        ),
    )

    @handles(ev.PersonEnrolled)
    def _enrolled(self, e: Record, changes: PageChanges) -> None:
        changes.upsert(
            "persons",
            (e["originator_id"],),
            {
                "masked": e["masked"],
                "region": e["region"],
                "insurance": e["insurance"],
                "status": "active",
                "enrolled_at": local_iso(parse(e["timestamp"])),
            },
        )

    @handles(ev.PersonSuspended)
    def _suspended(self, e: Record, changes: PageChanges) -> None:
        changes.update("persons", (e["originator_id"],), {"status": "suspended"})

    @handles(ev.PersonResumed)
    def _resumed(self, e: Record, changes: PageChanges) -> None:
        changes.update("persons", (e["originator_id"],), {"status": "active"})

    @handles(ev.PersonCancelled)
    def _cancelled(self, e: Record, changes: PageChanges) -> None:
        changes.update("persons", (e["originator_id"],), {"status": "cancelled"})

    @handles(ev.PersonExpired)
    def _expired(self, e: Record, changes: PageChanges) -> None:
        changes.update("persons", (e["originator_id"],), {"status": "expired"})

    @handles(ev.PersonTransferred)
    def _transferred(self, e: Record, changes: PageChanges) -> None:
        changes.update("persons", (e["originator_id"],), {"region": e["region_to"]})


class BindingsProjection(LedgerProjection):
    name = "bindings"
    title = "current family-account bindings: binder, member, relationship, channel, since"
    tables = (
        Table(
            "bindings",
            (
                ("binder", "text"),
                ("member", "text"),
                ("binder_masked", "text"),
                ("member_masked", "text"),
                ("relationship", "text"),
                ("kind", "text"),
                ("channel", "text"),
                ("verification", "text"),
                ("since", "text"),
                ("since_us", "int"),
                ("rule_version", "text"),
            ),
            key=("binder", "member"),
            indexes=(("member",),),
        ),
    )

    @handles(ev.BindingStarted)
    def _started(self, e: Record, changes: PageChanges) -> None:
        me, other = e["originator_id"], e["counterpart"]
        binder, member, masked_column = (
            (me, other, "member_masked") if e["role"] == "binder" else (other, me, "binder_masked")
        )
        changes.upsert(
            "bindings",
            (binder, member),
            {
                masked_column: e["counterpart_masked"],
                "relationship": e["relationship"],
                "kind": e["kind"],
                "channel": e["channel"],
                "verification": e["verification"],
                **_since(e),
                "rule_version": e["rule_version"],
            },
        )

    @handles(ev.BindingEnded)
    def _ended(self, e: Record, changes: PageChanges) -> None:
        me, other = e["originator_id"], e["counterpart"]
        changes.delete("bindings", (me, other) if e["role"] == "binder" else (other, me))


class AuthorizationsProjection(LedgerProjection):
    name = "authorizations"
    title = "active mutual-aid authorizations: authorizer, beneficiary, relationship, since"
    tables = (
        Table(
            "authorizations",
            (
                ("authorizer", "text"),
                ("beneficiary", "text"),
                ("authorizer_masked", "text"),
                ("beneficiary_masked", "text"),
                ("relationship", "text"),
                ("since", "text"),
                ("since_us", "int"),
                ("rule_version", "text"),
            ),
            key=("authorizer", "beneficiary"),
            indexes=(("beneficiary",),),
        ),
    )

    @handles(ev.AuthorizationGranted)
    def _granted(self, e: Record, changes: PageChanges) -> None:
        me, other = e["originator_id"], e["counterpart"]
        authorizer, beneficiary, masked_column = (
            (me, other, "beneficiary_masked") if e["role"] == "authorizer" else (other, me, "authorizer_masked")
        )
        changes.upsert(
            "authorizations",
            (authorizer, beneficiary),
            {
                masked_column: e["counterpart_masked"],
                "relationship": e["relationship"],
                **_since(e),
                "rule_version": e["rule_version"],
            },
        )

    @handles(ev.AuthorizationEnded)
    def _ended(self, e: Record, changes: PageChanges) -> None:
        me, other = e["originator_id"], e["counterpart"]
        changes.delete("authorizations", (me, other) if e["role"] == "authorizer" else (other, me))
