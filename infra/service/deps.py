"""What every route shares: the service (ledger, keys, views, writer, metrics), bearer keys and
roles as FastAPI dependencies, and the person and settlement look-ups that check a key's scope."""

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.person import Person
from domain.settlement import settlement_aggregate_id
from infra.service import auth
from infra.service.metrics import Metrics
from infra.service.problems import Problem
from infra.service.store import ServiceStore
from infra.service.views import Views
from infra.service.writer import GroupCommitWriter

bearer = HTTPBearer(auto_error=False, description="A key made with `ledger keys create`.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
Purpose = Annotated[
    str,
    Header(
        alias="X-Purpose",
        min_length=1,
        max_length=200,
        description="Why this person's data is read (PIPL); recorded in the access log.",
    ),
]
MinPosition = Annotated[int | None, Query(ge=0, description="Wait (bounded) until the views reach this log position.")]


def person_in_scope(
    ledger: Any,
    ref: str,
    key: dict[str, Any],
    *,
    detail: str = "person_ref: no enrolled person with this reference",
    field: str | None = "person_ref",
) -> Person:
    """The person a person_ref names, within the key's region (403 outside it); 404 when the
    reference names no enrolled person. The API and the console answer the same way."""
    try:
        person = ledger.repository.get(UUID(ref))
    except (ValueError, AggregateNotFoundError):
        person = None
    if not isinstance(person, Person):
        extra: dict[str, Any] = {"field": field} if field else {}
        raise Problem(404, "UNKNOWN_PERSON", detail, **extra)
    auth.check_region(key, person.region)
    return person


@dataclass
class Service:
    """One served ledger: its keys store, views, writer and metrics (`api.state.service`)."""

    ledger: Any
    store: ServiceStore
    views: Views
    writer: Any
    metrics: Metrics
    ready_lag_max: int

    async def authenticate(self, credentials: HTTPAuthorizationCredentials | None, request: Request) -> dict[str, Any]:
        """The request's key. A key read within the store's cache time is answered in the event
        loop; the keys table is read (in a worker thread) only when it is not."""
        header = request.headers.get("authorization")
        token = auth.bearer_token(header if credentials is None else f"Bearer {credentials.credentials}")
        key = self.store.cached_key(token) or await run_in_threadpool(self.store.key_for_token, token)
        if key is None:
            raise Problem(401, "UNAUTHORIZED", "unknown, expired or revoked key")
        if self.store.use_due(key["key_id"]):
            await run_in_threadpool(self.store.record_use, key["key_id"], request.url.path)
        return key

    def person_of(self, ref: str, key: dict[str, Any]) -> Person:
        """The person a person_ref names, within the key's region; 404 otherwise."""
        return person_in_scope(self.ledger, ref, key)

    def read_person(self, ref: str, key: dict[str, Any], purpose: str, endpoint: str) -> Person:
        person = self.person_of(ref, key)
        self.store.record_access(key, str(person.id), endpoint, purpose)
        return person

    def settlement_institution(self, settlement_id: Any) -> str | None:
        from infra.audit.replay import _settlement_events
        from infra.audit.store import AuditStore

        if not isinstance(settlement_id, str):
            return None
        try:
            settlement = self.ledger.repository.get(settlement_aggregate_id(settlement_id))
        except AggregateNotFoundError:
            return None
        found = _settlement_events(self.ledger, AuditStore(self.ledger), settlement.patient, settlement_id, None)
        return next((getattr(i.event, "institution", None) for i in found if hasattr(i.event, "institution")), None)

    async def write(self, texts: list[str]) -> Any:
        if isinstance(self.writer, GroupCommitWriter):
            return await self.writer.submit_async(texts)
        return await run_in_threadpool(self.writer.write, texts)


async def service_of(request: Request) -> Service:
    return request.app.state.service


Svc = Annotated[Service, Depends(service_of)]


def role(*roles: str) -> Any:
    """A dependency: the request's key, which must hold one of `roles`."""

    async def dependency(credentials: Bearer, request: Request) -> dict[str, Any]:
        key = await request.app.state.service.authenticate(credentials, request)
        auth.check_role(key, roles)
        return key

    return Depends(dependency)


Key = Annotated[dict, role(*auth.ROLES_ALL)]
Writer = Annotated[dict, role(*auth.WRITERS)]
Auditor = Annotated[dict, role("auditor")]
Operator = Annotated[dict, role("operator")]
