"""The core every front end calls: `bootstrap.open_ledger(settings)` gives a `ledger.Ledger`
(commands, reads, audits, evidence, keys, access log, views)."""
