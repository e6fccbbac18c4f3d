"""Audit-grade replay, tamper evidence and compliance reports.

Everything here reads the event store itself, never the projections' views:
- `hashing`: the pure hash-chain and Merkle definitions (also used offline by verify-bundle);
  `signing`: Ed25519 signatures of checkpoints;
- `evidence_store`: the event log and the audit's own tables, through the store's adapter;
- `chain`: `seal` (and `links_for`, `trust`); `chain_verification`: `verify`;
- `replay`: the replay of a disputed deduction; `history`: a person's timeline;
- `bundle`: evidence bundles; `bundle_check`: their offline verification;
- `report`: the monthly compliance report (its HTML is infra.pages).
"""
