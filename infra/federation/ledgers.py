"""The ledgers of a federation, opened on first use, each given the federation as its
directory (infra.provinces.directory): the router, the relay and reconcile work through it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from domain.errors import UnknownProvinceError
from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.eventstore.application import LedgerApp
from infra.provinces.directory import FederationDirectory
from infra.provinces.federation_file import Federation
from infra.settings import load_settings


class FederatedLedgers(FederationDirectory):
    """Every ledger of the federation, opened whole (commands, reads, views); the directory
    looks people up in these ledgers' own stores."""

    def __init__(
        self,
        federation: Federation,
        rules_dir: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        prefetch: bool = True,
    ):
        super().__init__(federation, rules_dir)
        self.clock = clock
        self.prefetch = prefetch
        self._open: dict[str, Ledger] = {}

    def app(self, province: str) -> LedgerApp:
        return self.ledger(province).app

    def ledger(self, province: str) -> Ledger:
        """The ledger of `province` (UNKNOWN_PROVINCE when the federation has none)."""
        opened = self._open.get(province)
        if opened is None:
            db = self.federation.ledgers.get(province)
            if db is None:
                raise UnknownProvinceError(
                    f"province {province}: the federation has no ledger for it (it has {', '.join(self.provinces)})"
                )
            settings = dataclasses.replace(load_settings(db, self.rules_dir), province=province)
            opened = open_ledger(settings, clock=self.clock, prefetch=self.prefetch, directory=self)
            self._open[province] = opened
        return opened

    def all(self) -> list[tuple[str, Ledger]]:
        return [(p, self.ledger(p)) for p in self.provinces]

    def close(self) -> None:
        for ledger in self._open.values():
            ledger.close()
        self._open.clear()
