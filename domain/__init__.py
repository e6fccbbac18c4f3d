"""Pure model of the family-account ledger: no I/O, no clock, no environment."""
