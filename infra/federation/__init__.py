"""One ledger per province (docs/scaling.md): routing to a person's home ledger, the relay that
delivers cross-province quota steps exactly once, reconciliation, audits and the bench. The
federation file and the directory of people are below the core, in infra.provinces."""
