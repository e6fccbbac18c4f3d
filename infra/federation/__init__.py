"""One ledger per province (docs/scaling.md): the federation file, routing to a person's home
ledger, the relay that delivers cross-province quota steps exactly once, and reconciliation."""
