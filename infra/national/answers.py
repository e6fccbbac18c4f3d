"""The platform's answer envelope, for answering in its own shape: `infcode` 0 with an `output`, or
-1 with `err_msg` carrying the ledger's code and message (which never repeat an ID number)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.errors import LedgerError, scrub

ERR_MSG_CHARS_MAX = 200


def answer_envelope(refmsgid: str, output: dict[str, Any]) -> dict[str, Any]:
    """`refmsgid` is the answering side's own message id (the platform writes its region code,
    the time and a serial number), not an echo of the request's `msgid`."""
    return {"infcode": 0, "inf_refmsgid": refmsgid, "err_msg": "", "output": output}


def refusal_envelope(refmsgid: str, error: LedgerError | Mapping[str, Any]) -> dict[str, Any]:
    """`error`: the refusal, or an answer's `error` object (`code`, `message`)."""
    code, message = (error.code, error.message) if isinstance(error, LedgerError) else (error["code"], error["message"])
    err_msg = scrub(f"{code}: {message}")[:ERR_MSG_CHARS_MAX]
    return {"infcode": -1, "inf_refmsgid": refmsgid, "err_msg": err_msg, "output": {}}


def stmtinfo_output(statement_result: dict[str, Any]) -> dict[str, Any]:
    """A 3201 answer's `output` from one result of `reconcile.reconcile_statement`."""
    dscr = statement_result["stmt_rslt_dscr"][:ERR_MSG_CHARS_MAX]
    return {"stmtinfo": {"stmt_rslt": statement_result["stmt_rslt"], "stmt_rslt_dscr": dscr}}
