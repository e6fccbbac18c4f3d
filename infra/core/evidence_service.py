"""Sealing and verifying the evidence, one implementation for every front end.

`seal` signs a checkpoint of the event chain (and of the access log's head) with the configured
seal key; `verify` recomputes both against the configured public key (or one given) and an
anchor, and gives one verdict: `ok` is false when either the events or the access log were
altered. The CLI, the service and the console all call these two, with the same inputs from the
same configuration (infra.settings: LEDGER_SEAL_KEY, LEDGER_SEAL_PUBLIC_KEY).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.errors import LedgerError
from infra.access.access_log import AccessLog
from infra.audit import chain, chain_verification
from infra.audit.bundle_check import verify_bundle
from infra.audit.evidence_store import EvidenceStore
from infra.eventstore.application import LedgerApp
from infra.settings import ConfigError, load_seal_key, load_seal_public_key, warn_development_seal_key


class SealKeyMissingError(LedgerError):
    """No seal key is configured where one is required (HTTP 503)."""

    code = "SEAL_KEY_MISSING"


class EvidenceService:
    def __init__(self, app: LedgerApp, access: Callable[[], AccessLog]):
        self.app = app
        self._access = access

    def checkpoints(self) -> list[dict[str, Any]]:
        return EvidenceStore(self.app).checkpoints()

    def seal(self, sealed_at: str | None = None) -> dict[str, Any]:
        """Extend the chain to the end of the log, store signed checkpoints, seal the access log.
        SEAL_KEY_MISSING without a seal key (PostgreSQL); SEAL_CONFLICT when another seal ran."""
        try:
            key = load_seal_key(self.app.settings.db)
        except ConfigError as error:
            raise SealKeyMissingError(str(error)) from None
        warn_development_seal_key(key)
        sealed_at = sealed_at or datetime.now(UTC).isoformat(timespec="seconds")
        store = EvidenceStore(self.app)
        written = chain.seal(store, sealed_at, seed=key.seed)
        checkpoints = store.checkpoints()
        return {
            "written": written,
            "checkpoint": checkpoints[-1] if checkpoints else None,
            "access_log_checkpoint": self._access().seal(key.seed, sealed_at),
        }

    def public_key(self, given: str | None = None) -> bytes | None:
        """The public key checkpoints must be signed by: `given`, else LEDGER_SEAL_PUBLIC_KEY."""
        return load_seal_public_key(given)

    def verify(self, public_key: bytes | None = None, anchor: str | None = None) -> dict[str, Any]:
        """Recompute the chain and the access log; `public_key` defaults to the configured one."""
        trusted = public_key if public_key is not None else self.public_key()
        result = chain_verification.verify(EvidenceStore(self.app), trusted, anchor)
        readers = AccessLog(self.app.recorder, create=False)
        access = readers.verify(trusted) if readers.exists() else None
        result["access_log"] = access
        result["ok"] = result["ok"] and (access is None or access["ok"])
        return result

    def verify_bundle(self, data: bytes, public_key: bytes | None = None, anchor: str | None = None) -> dict[str, Any]:
        """An evidence bundle checked as `ledger verify-bundle` checks it, against this ledger's
        rule catalogue and the configured public key (or one given)."""
        trusted = public_key if public_key is not None else self.public_key()
        return verify_bundle(data, self.app.catalogue, public_key=trusted, anchor=anchor)
