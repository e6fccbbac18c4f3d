"""Tooling around the ledger: the demo, the deterministic workload generator and the benchmark.
Library code never imports these; the CLI and the tests do."""
