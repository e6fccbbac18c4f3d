"""The seal key of the tests (Ed25519 seed, 32 bytes) and its environment for the `ledger` command."""

from __future__ import annotations

SEAL_SEED_HEX = "5eed" * 16
SEAL_SEED = bytes.fromhex(SEAL_SEED_HEX)
SEAL_ENV = {"LEDGER_SEAL_KEY": SEAL_SEED_HEX}
