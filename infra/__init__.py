"""Persistence, the application service, projection runners and the CLI."""
