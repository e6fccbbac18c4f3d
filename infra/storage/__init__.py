"""Storage: one adapter per backend (SQLite file, PostgreSQL, in-memory), chosen once when a
ledger opens its store (infra.storage.opening), as the eventsourcing library chooses its own
recorders: through its factory, named by the environment (PERSISTENCE_MODULE).

Each adapter is the library's process recorder of that dialect, extended with what the ledger
reads in bulk (a person's events, log pages, prefetch) and its own side tables (audit chain,
keys, access log, pseudonym-key check), so no other module asks which backend it runs on.
"""
