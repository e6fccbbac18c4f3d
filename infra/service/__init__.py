"""The ledger as an HTTP service (`ledger serve`): FastAPI on uvicorn, bearer keys with roles,
group commit inside the server, reads from the views, and a who-read-whose-data access log.

Every rule stays where it is: commands go through `LedgerApp.apply_line` / `apply_batch`, reads
through infra.readmodels.view_reads and infra.audit, exactly as the CLI calls them. This
package adds only what a network edge needs (authentication, scopes, HTTP codes, metrics).
"""
