"""The read side: where the views live (tracking recorders with view tables), the runner that
feeds them from the event log, and the queries that answer from views or aggregates."""
