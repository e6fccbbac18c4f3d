"""Sealing and verifying the evidence, one implementation for every front end.

What is evidence, and how each part holds against someone who can write the database but holds
neither the seal key nor the pseudonym key (docs/audit.md, docs/evidence-format.md):
- the event log: a hash chain over every record, in segments with Merkle trees, under signed
  checkpoints (infra.audit.chain, chain_verification); each event carries a MAC, so that an
  event added by SQL is never sealed (`seal` refuses) and is named by `verify`
  (infra.storage.event_macs, infra.audit.event_mac_check);
- the access log and the key log: hash chains of MAC'd entries (infra.access.log_chain); every
  checkpoint carries their heads (`covers`), so one anchor pins them too;
- the keys table: each row MAC'd, and derived from the key log; its digest at the key log's
  head is covered too (infra.access.key_log);
- snapshots are not evidence but a MAC'd cache: one that does not verify is never used
  (infra.eventstore.snapshots), and `verify` names it.

`seal` signs checkpoints with the configured seal key; `verify` recomputes everything against
the configured public key (or one given) and an anchor, and gives one verdict: `ok` is false
when any part fails. The CLI, the service and the console all call these two, with the same
inputs from the same configuration (infra.settings: LEDGER_SEAL_KEY, LEDGER_SEAL_PUBLIC_KEY).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.errors import LedgerError
from infra.access.access_log import AccessLog
from infra.access.keys import KeyStore
from infra.access.log_chain import Head
from infra.audit import chain, chain_verification
from infra.audit.bundle_check import verify_bundle
from infra.audit.event_mac_check import check_event_macs, refuse_unproven
from infra.audit.evidence_store import EvidenceStore
from infra.eventstore.application import LedgerApp
from infra.eventstore.keycheck import unknown_meta_rows
from infra.eventstore.snapshot_check import check_snapshots
from infra.settings import ConfigError, load_seal_key, load_seal_public_key, warn_development_seal_key

NOT_COVERED = (
    "the last checkpoint was sealed before checkpoints covered the access log, the key log and the keys: "
    "they are checked for consistency only; `ledger seal` covers them from now on"
)


class SealKeyMissingError(LedgerError):
    """No seal key is configured where one is required (HTTP 503)."""

    code = "SEAL_KEY_MISSING"


class SealPublicKeyError(LedgerError):
    """LEDGER_SEAL_PUBLIC_KEY (or a public key given) is not 64 hex: nothing is verified (HTTP 503)."""

    code = "SEAL_PUBLIC_KEY_INVALID"


class EvidenceService:
    def __init__(self, app: LedgerApp, access: Callable[[], AccessLog], keys: Callable[[], KeyStore]):
        self.app = app
        self._access = access
        self._keys = keys

    def checkpoints(self) -> list[dict[str, Any]]:
        return EvidenceStore(self.app).checkpoints()

    def covers(self) -> dict[str, Any]:
        """What a seal covers beside the events, as the ledger's own logs stand now."""
        key_log, keys_sha256 = self._keys().head()
        return {
            "access_log": self._access().head().as_dict(),
            "key_log": key_log.as_dict(),
            "keys_sha256": keys_sha256,
            "event_macs_from": self.app.event_macs_from,
            "command_ids_scoped_from": self.app.command_ids_scoped_from,
        }

    def seal(self, sealed_at: str | None = None) -> dict[str, Any]:
        """Extend the chain to the end of the log and store signed checkpoints covering the
        access log, the key log and the keys. SEAL_KEY_MISSING without a seal key (PostgreSQL);
        SEAL_CONFLICT when another seal ran."""
        try:
            key = load_seal_key(self.app.settings.db)
        except ConfigError as error:
            raise SealKeyMissingError(str(error)) from None
        warn_development_seal_key(key)
        sealed_at = sealed_at or datetime.now(UTC).isoformat(timespec="seconds")
        store = EvidenceStore(self.app)
        last = store.checkpoints()[-1:]
        refuse_unproven(store, self.app.event_macs, self.app.event_macs_from, last[0]["position"] if last else 0)
        written = chain.seal(store, sealed_at, seed=key.seed, covers=self.covers())
        checkpoints = store.checkpoints()
        return {"written": written, "checkpoint": checkpoints[-1] if checkpoints else None}

    def public_key(self, given: str | None = None) -> bytes | None:
        """The public key checkpoints must be signed by: `given`, else LEDGER_SEAL_PUBLIC_KEY.
        SEAL_PUBLIC_KEY_INVALID when it is malformed: no front end verifies without it then."""
        try:
            return load_seal_public_key(given)
        except ConfigError as error:
            raise SealPublicKeyError(str(error)) from None

    def verify(self, public_key: bytes | None = None, anchor: str | None = None) -> dict[str, Any]:
        """Everything that is evidence, recomputed; `public_key` defaults to the configured one."""
        trusted = public_key if public_key is not None else self.public_key()
        result = chain_verification.verify(EvidenceStore(self.app), trusted, anchor)
        covers = (result.get("checkpoint") or {}).get("covers")
        sealed_access, sealed_keys, keys_sha256 = _sealed_heads(covers)
        result["access_log"] = self._access().verify(trusted, sealed_access)
        result["key_log"], result["keys"] = self._keys().verify(sealed_keys, keys_sha256)
        result["snapshots"] = check_snapshots(self.app)
        result["events"] = self._event_macs(covers)
        if covers is None and result.get("checkpoint") is not None:
            result["not_covered"] = NOT_COVERED
        parts = ("access_log", "key_log", "keys", "snapshots", "events")
        result["ok"] = result["ok"] and all(result[part]["ok"] for part in parts)
        return result

    def _event_macs(self, covers: dict[str, Any] | None) -> dict[str, Any]:
        """Every event's MAC, from the position the last checkpoint sealed (else the recorded one)."""
        sealed = (covers or {}).get("event_macs_from")
        macs_from = sealed if sealed is not None else self.app.event_macs_from
        check = check_event_macs(EvidenceStore(self.app), self.app.event_macs, macs_from)
        found = [self.app.event_macs_problem] if self.app.event_macs_problem else []
        found += [
            f"ledger_meta holds a row the ledger never writes: {name!r}"
            for name in unknown_meta_rows(self.app.recorder)
        ]
        if sealed is not None and sealed != self.app.event_macs_from:
            found.append(f"ledger_meta says events carry MACs from position {self.app.event_macs_from}, "
                         f"the last checkpoint sealed {sealed}")  # fmt: skip
        found += self._command_scope_problems(covers)
        problems = [{"kind": "event_mac", "position": 0, "detail": detail} for detail in found]
        return {**check, "ok": check["ok"] and not problems, "problems": problems + check["problems"],
                "problem_count": check["problem_count"] + len(problems)}  # fmt: skip

    def _command_scope_problems(self, covers: dict[str, Any] | None) -> list[str]:
        """The record of the position from which command ids are scoped (which decides whether
        a retry is looked up under a global id too): its MAC, and the position last sealed."""
        found = [self.app.command_scope_problem] if self.app.command_scope_problem else []
        sealed, now = (covers or {}).get("command_ids_scoped_from"), self.app.command_ids_scoped_from
        if sealed is not None and sealed != now:
            found.append(
                f"ledger_meta says command ids are scoped from position {now}, the last checkpoint sealed {sealed}"
            )
        return found

    def verify_bundle(self, data: bytes, public_key: bytes | None = None, anchor: str | None = None) -> dict[str, Any]:
        """An evidence bundle checked as `ledger verify-bundle` checks it, against this ledger's
        rule catalogue and the configured public key (or one given)."""
        trusted = public_key if public_key is not None else self.public_key()
        return verify_bundle(data, self.app.catalogue, public_key=trusted, anchor=anchor)


def _sealed_heads(covers: dict[str, Any] | None) -> tuple[Head | None, Head | None, str | None]:
    """(access log head, key log head, keys digest) the last checkpoint sealed; Nones when it
    covers none or what it holds is not well formed (its signature then fails: a problem)."""
    if covers is None:
        return None, None, None
    try:
        return Head.of(covers["access_log"]), Head.of(covers["key_log"]), str(covers["keys_sha256"])
    except (KeyError, TypeError, ValueError):
        return None, None, None
