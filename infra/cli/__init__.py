"""The `ledger` command line: one module per command family, all attached to one group."""
