"""The one core behind every front end (cosmicpython's service layer): the CLI, the HTTP
service and the console hold a `Ledger` and call it; none of them holds ledger logic of its own.

- `commands`: typed submissions in, answers out, through the one write path;
- `reads`: one person's data, scoped to the asking key's region and logged;
- `audits`: a deduction's replay and evidence bundle, the compliance report;
- `evidence`: seal and verify (one verdict for the events, the access and key logs, the keys
  and the snapshots);
- `national`: the national platform's records: import, export, reconciliation;
- `keys`, `access`: the service's bearer keys, and who read whose data;
- `views`: the read models, caught up by a follower in long-running processes.

Made by `infra.core.bootstrap.open_ledger`, the one place that wires these together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.access.access_log import AccessLog
from infra.access.keys import KeyStore
from infra.core.audit_service import AuditService
from infra.core.command_service import CommandService
from infra.core.evidence_service import EvidenceService
from infra.core.national_service import NationalService
from infra.core.read_service import ReadService
from infra.eventstore.application import LedgerApp
from infra.readmodels.live_views import LiveViews
from infra.settings import Settings


@dataclass
class Ledger:
    app: LedgerApp
    commands: CommandService
    key_cache_s: float = 0.0
    reads: ReadService = field(init=False)
    audits: AuditService = field(init=False)
    evidence: EvidenceService = field(init=False)
    national: NationalService = field(init=False)
    _keys: KeyStore | None = field(default=None, init=False)
    _access: AccessLog | None = field(default=None, init=False)
    _views: LiveViews | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.reads = ReadService(self.app, lambda: self.access, lambda: self.views)
        self.evidence = EvidenceService(self.app, lambda: self.access, lambda: self.keys)
        self.audits = AuditService(self.app, self.reads, self.evidence)
        self.national = NationalService(self.app, self.commands, self.evidence.verify)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    # The side tables and the views are opened on first use: a command that needs none of
    # them (`ledger seal`, `ledger verify` on a replica) creates none of them.
    @property
    def keys(self) -> KeyStore:
        if self._keys is None:
            self._keys = KeyStore(
                self.app.recorder,
                self.settings.pseudonym_key,
                create=not self.settings.read_only,
                key_cache_s=self.key_cache_s,
            )
        return self._keys

    @property
    def access(self) -> AccessLog:
        if self._access is None:
            self._access = AccessLog(self.app.recorder, self.settings.pseudonym_key, create=not self.settings.read_only)
        return self._access

    @property
    def views(self) -> LiveViews:
        if self._views is None:
            self._views = LiveViews(self.app)
        return self._views

    def close(self) -> None:
        if self._views is not None:
            self._views.stop()
        self.app.close()
