"""Who is who, and who is tied to whom: persons, current bindings, active authorizations.

A binding or authorization is recorded on both people (one event each, same save). Each event
writes the columns it knows (the other side's masked number comes from the *other* event), with
an upsert, so the row ends the same whichever of the two events is processed first.
"""

from __future__ import annotations

from domain import events as ev
from projections._time import epoch_us, local_iso
from projections.base import LedgerProjection, Table, ViewWriter, handles, upsert_set


class PersonsProjection(LedgerProjection):
    name = "persons"
    title = "enrolled persons: masked number, region, insurance, status"
    tables = (
        Table(
            "persons",
            (("person", "text"), ("masked", "text"), ("region", "text"), ("insurance", "text"),
             ("status", "text"), ("enrolled_at", "text")),
            key=("person",),
        ),
    )
    _SET_STATUS = "UPDATE {persons} SET status = ? WHERE person = ?"

    @handles(ev.PersonEnrolled)
    def _enrolled(self, event: ev.PersonEnrolled, w: ViewWriter) -> None:
        w.execute(
            upsert_set("persons", ("person",), ("masked", "region", "insurance", "status", "enrolled_at")),
            (str(event.originator_id), event.masked, event.region, event.insurance, "active",
             local_iso(event.timestamp)),
        )

    @handles(ev.PersonSuspended)
    def _suspended(self, event: ev.PersonSuspended, w: ViewWriter) -> None:
        w.execute(self._SET_STATUS, ("suspended", str(event.originator_id)))

    @handles(ev.PersonResumed)
    def _resumed(self, event: ev.PersonResumed, w: ViewWriter) -> None:
        w.execute(self._SET_STATUS, ("active", str(event.originator_id)))

    @handles(ev.PersonCancelled)
    def _cancelled(self, event: ev.PersonCancelled, w: ViewWriter) -> None:
        w.execute(self._SET_STATUS, ("cancelled", str(event.originator_id)))

    @handles(ev.PersonExpired)
    def _expired(self, event: ev.PersonExpired, w: ViewWriter) -> None:
        w.execute(self._SET_STATUS, ("expired", str(event.originator_id)))

    @handles(ev.PersonTransferred)
    def _transferred(self, event: ev.PersonTransferred, w: ViewWriter) -> None:
        w.execute("UPDATE {persons} SET region = ? WHERE person = ?", (event.region_to, str(event.originator_id)))


class BindingsProjection(LedgerProjection):
    name = "bindings"
    title = "current family-account bindings: binder, member, relationship, channel, since"
    tables = (
        Table(
            "bindings",
            (("binder", "text"), ("member", "text"), ("binder_masked", "text"), ("member_masked", "text"),
             ("relationship", "text"), ("kind", "text"), ("channel", "text"), ("verification", "text"),
             ("since", "text"), ("since_us", "int"), ("rule_version", "text")),
            key=("binder", "member"),
            indexes=(("member",),),
        ),
    )
    _SHARED = ("relationship", "kind", "channel", "verification", "since", "since_us", "rule_version")

    @handles(ev.BindingStarted)
    def _started(self, event: ev.BindingStarted, w: ViewWriter) -> None:
        me, other = str(event.originator_id), str(event.counterpart)
        binder, member, masked_column = (me, other, "member_masked") if event.role == "binder" else (
            other, me, "binder_masked")
        w.execute(
            upsert_set("bindings", ("binder", "member"), (masked_column, *self._SHARED)),
            (binder, member, event.counterpart_masked, event.relationship, event.kind, event.channel,
             event.verification, local_iso(event.timestamp), epoch_us(event.timestamp), event.rule_version),
        )

    @handles(ev.BindingEnded)
    def _ended(self, event: ev.BindingEnded, w: ViewWriter) -> None:
        me, other = str(event.originator_id), str(event.counterpart)
        binder, member = (me, other) if event.role == "binder" else (other, me)
        w.execute("DELETE FROM {bindings} WHERE binder = ? AND member = ?", (binder, member))


class AuthorizationsProjection(LedgerProjection):
    name = "authorizations"
    title = "active mutual-aid authorizations: authorizer, beneficiary, relationship, since"
    tables = (
        Table(
            "authorizations",
            (("authorizer", "text"), ("beneficiary", "text"), ("authorizer_masked", "text"),
             ("beneficiary_masked", "text"), ("relationship", "text"), ("since", "text"), ("since_us", "int"),
             ("rule_version", "text")),
            key=("authorizer", "beneficiary"),
            indexes=(("beneficiary",),),
        ),
    )
    _SHARED = ("relationship", "since", "since_us", "rule_version")

    @handles(ev.AuthorizationGranted)
    def _granted(self, event: ev.AuthorizationGranted, w: ViewWriter) -> None:
        me, other = str(event.originator_id), str(event.counterpart)
        authorizer, beneficiary, masked_column = (me, other, "beneficiary_masked") if event.role == "authorizer" else (
            other, me, "authorizer_masked")
        w.execute(
            upsert_set("authorizations", ("authorizer", "beneficiary"), (masked_column, *self._SHARED)),
            (authorizer, beneficiary, event.counterpart_masked, event.relationship, local_iso(event.timestamp),
             epoch_us(event.timestamp), event.rule_version),
        )

    @handles(ev.AuthorizationEnded)
    def _ended(self, event: ev.AuthorizationEnded, w: ViewWriter) -> None:
        me, other = str(event.originator_id), str(event.counterpart)
        authorizer, beneficiary = (me, other) if event.role == "authorizer" else (other, me)
        w.execute("DELETE FROM {authorizations} WHERE authorizer = ? AND beneficiary = ?", (authorizer, beneficiary))
