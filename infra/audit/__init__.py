"""Audit-grade replay, tamper evidence and compliance reports.

Everything here reads the event store itself, never the projections' views:
- `hashing`: the pure hash-chain and Merkle definitions (also used offline by verify-bundle);
- `store`: paged access to the event log and the audit's own tables (SQLite, PostgreSQL, memory);
- `chain`: `seal` and `verify`;
- `replay`: the replay of a disputed deduction; `history`: a person's timeline;
- `bundle`: evidence bundles and their offline verification;
- `report`: the monthly compliance report; `html`: self-contained pages with inline SVG.
"""
