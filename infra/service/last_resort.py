"""The last resort: an exception no handler answered becomes 500 problem+json `INTERNAL_ERROR`
and one masked log line with its traceback, never a text/plain traceback to the client. The
request-measuring middleware (infra.service.app.MeasureRequests), the outermost of ours, calls
`answer_unhandled`, so it costs no layer of its own. Tests make sure no request they send
reaches it (`LastResort.reached` counts the times one did)."""

from __future__ import annotations

import logging

from starlette.types import Receive, Scope, Send

from domain.masking import mask_digit_runs
from infra.service.problems import Problem

log = logging.getLogger("ledger.service")


class LastResort:
    reached = 0


async def answer_unhandled(error: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    """Log `error` (masked) and answer 500 problem+json (the answer has not started)."""
    LastResort.reached += 1
    log.error("unhandled %s on %s %s: %s", type(error).__name__, scope["method"], mask_digit_runs(scope["path"]),
              mask_digit_runs(str(error)), exc_info=error)  # fmt: skip
    detail = "the service failed to answer this request; it is logged (see the server log)"
    await Problem(500, "INTERNAL_ERROR", detail).response(scope["path"])(scope, receive, send)
