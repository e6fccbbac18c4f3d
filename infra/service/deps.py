"""What every route shares: the served ledger with its writer and metrics (`Service`), and the
request's key as a FastAPI dependency that checks its role. Scopes (regions, channels,
institutions) are the core's: routes pass the key on as a `Principal`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from infra.access.keys import token_hash
from infra.core.ledger import Ledger
from infra.roles import ROLES, WRITER_ROLES, Principal, UnauthenticatedError
from infra.service.metrics import Metrics
from infra.service.writer import GroupCommitWriter, Written
from infra.writing.write_path import Submission

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
# Where infra.service.admission keeps the key it authenticated before the body was read.
SCOPE_PRINCIPAL = "ledger.principal"
ROUTE_LABEL = "ledger.route_label"  # and what the metrics count a request it refused under
MinPosition = Annotated[int | None, Query(ge=0, description="Wait (bounded) until the views reach this log position.")]


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise UnauthenticatedError("Authorization: Bearer TOKEN is required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("Authorization: must be Bearer TOKEN")
    return token.strip()


@dataclass
class Service:
    """One served ledger, its writer and its metrics (`api.state.service`)."""

    ledger: Ledger
    writer: Any  # GroupCommitWriter, its ProcessWriter, or DirectWriter
    metrics: Metrics
    ready_lag_max: int
    _in_flight: dict[tuple[str, str], asyncio.Future[Any]] = field(default_factory=dict)

    async def authenticate(self, credentials: HTTPAuthorizationCredentials | None, request: Request) -> Principal:
        """The request's key. A key read within the store's cache time is answered in the event
        loop; the keys table is read (in a worker thread, once for all the requests that miss
        together) only when it is not. A request already authenticated before its body was read
        (infra.service.admission) is not looked up again."""
        admitted = request.scope.get(SCOPE_PRINCIPAL)
        if admitted is not None:
            return admitted
        keys = self.ledger.keys
        header = request.headers.get("authorization")
        token = bearer_token(header if credentials is None else f"Bearer {credentials.credentials}")
        key = keys.cached_key(token) or await self._shared(("key", token_hash(token)), keys.key_for_token, token)
        if key is None:
            raise UnauthenticatedError("unknown, expired or revoked key")
        if keys.use_due(key["key_id"]):
            await self._shared(("use", key["key_id"]), keys.record_use, key["key_id"], request.url.path)
        return Principal.of_key(key)

    async def _shared(self, what: tuple[str, str], work: Callable[..., Any], *args: Any) -> Any:
        """`work(*args)` in a worker thread, once for all the requests that ask for `what` while
        it runs: when the key cache's time runs out under load, every request in flight misses
        it at once, and each would read the keys table (or record the key's use) in a thread of
        its own. A waiter that goes away does not cancel the others' read."""
        running = self._in_flight.get(what)
        if running is None:
            running = asyncio.ensure_future(run_in_threadpool(work, *args))
            self._in_flight[what] = running
            running.add_done_callback(partial(self._done, what))
        return await asyncio.shield(running)

    def _done(self, what: tuple[str, str], finished: asyncio.Future[Any]) -> None:
        self._in_flight.pop(what, None)
        if not finished.cancelled():
            finished.exception()  # retrieved here too, in case every waiter went away

    def reads_in_flight(self) -> int:
        """Key reads and use records running for requests now (none once they are done)."""
        return len(self._in_flight)

    async def write(self, submissions: list[Submission]) -> Written:
        if isinstance(self.writer, GroupCommitWriter):
            return await self.writer.submit_async(submissions)
        return await run_in_threadpool(self.writer.write, submissions)

    def position(self) -> int:
        return self.ledger.commands.position()


async def service_of(request: Request) -> Service:
    return request.app.state.service


Svc = Annotated[Service, Depends(service_of)]


def role(*roles: str) -> Any:
    """A dependency: the request's key, which must hold one of `roles`."""

    async def dependency(credentials: Bearer, request: Request) -> Principal:
        principal = await request.app.state.service.authenticate(credentials, request)
        principal.check_role(*roles)
        return principal

    return Depends(dependency)


Key = Annotated[Principal, role(*ROLES)]
Writer = Annotated[Principal, role(*WRITER_ROLES)]
Auditor = Annotated[Principal, role("auditor")]
Operator = Annotated[Principal, role("operator")]
