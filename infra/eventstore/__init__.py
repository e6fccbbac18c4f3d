"""The event store and the write path: the application (commands in, results out), command
parsing, the storage mapping (mapper, transcoder, recorder, snapshots) and the pseudonym-key
check. Imports nothing from the read side, audit, the CLI or tooling."""
