"""The last resort: an exception no handler answered becomes 500 problem+json `INTERNAL_ERROR`
(an HTML page under /console) and one masked log line, never a text/plain traceback to the
client. Tests make sure no request they send reaches it (`reached` counts the times it did)."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.masking import mask_digit_runs
from infra.service.problems import Problem

log = logging.getLogger("ledger.service")


class LastResort:
    reached = 0

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        except Exception as error:  # the one place every unanswered error ends
            LastResort.reached += 1
            log.error("unhandled %s on %s %s: %s", type(error).__name__, scope["method"],
                      mask_digit_runs(scope["path"]), mask_digit_runs(str(error)), exc_info=True)  # fmt: skip
            if started:
                raise
            detail = "the service failed to answer this request; it is logged (see the server log)"
            await Problem(500, "INTERNAL_ERROR", detail).response(scope["path"])(scope, receive, send)
