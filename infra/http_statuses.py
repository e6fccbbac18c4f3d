"""The HTTP status of each ledger code, for both web front ends (the service's problem+json and
the console's error pages): invalid input 422, unknown person or settlement 404, no or a bad key
401, outside the key's role or scope 403, a command for another province's ledger 421, storage, a
missing seal key, a malformed configured public key or views behind 503, every
other refusal (rules, status, conflicts) 409."""

from __future__ import annotations

STATUS_OF_CODE = {
    "INVALID_INPUT": 422,
    "INVALID_ID_NUMBER": 422,
    "UNKNOWN_RULE_VERSION": 422,
    "PURPOSE_REQUIRED": 422,
    "UNKNOWN_PERSON": 404,
    "UNKNOWN_SETTLEMENT": 404,
    "NOT_FOUND": 404,
    "STORAGE_ERROR": 503,
    "SEAL_KEY_MISSING": 503,
    "SEAL_PUBLIC_KEY_INVALID": 503,
    "VIEWS_BEHIND": 503,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "WRONG_LEDGER": 421,  # Misdirected Request: another province's ledger decides it
}


def status_of(code: str) -> int:
    return STATUS_OF_CODE.get(code, 409)
