"""Who may use the ledger and who read whose data: the service's bearer keys and key log
(`keys`), and the access log with its hash chain (`access_log`, `access_chain`)."""
