"""The one place that wires a ledger together (cosmicpython's `bootstrap`): settings -> the
store's adapter and the event-store application -> the write path, reads, audits, evidence,
keys, access log and views. Every front end and every tool gets its `Ledger` from here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.rules import Catalogue
from infra.core.command_service import CommandService
from infra.core.ledger import Ledger
from infra.eventstore.application import Directory, LedgerApp
from infra.provinces.directory import FederationDirectory
from infra.provinces.federation_file import load_federation
from infra.settings import Settings


def open_ledger(
    settings: Settings,
    *,
    catalogue: Catalogue | None = None,
    rules_override: str | None = None,
    clock: Callable[[], datetime] | None = None,
    key_cache_s: float = 0.0,
    prefetch: bool = True,
    directory: Directory | None = None,
) -> Ledger:
    """A ledger on the store `settings` name. `rules_override`: a what-if ledger that decides
    under those rules and stores nothing; `key_cache_s`: how long a verified key is kept
    (a server's); `prefetch`: load each batch's aggregates in bulk (the group-commit writers);
    `directory`: where the federation's people live, for a ledger that is one of a federation
    (made from `settings.federation` when not given)."""
    app = LedgerApp(settings, catalogue=catalogue, rules_override=rules_override, clock=clock)
    if directory is None and settings.federation is not None:  # one ledger of a federation, alone
        directory = FederationDirectory(load_federation(settings.federation), settings.rules_dir)
    app.directory = directory
    return ledger_of(app, key_cache_s=key_cache_s, prefetch=prefetch)


def ledger_of(app: LedgerApp, *, key_cache_s: float = 0.0, prefetch: bool = True) -> Ledger:
    """The ledger around an event-store application already open (tests open theirs with a
    clock or a catalogue of their own)."""
    return Ledger(app, CommandService(app, prefetch=prefetch), key_cache_s=key_cache_s)
