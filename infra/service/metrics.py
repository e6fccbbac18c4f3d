"""Prometheus metrics of one server: requests, latency histograms, group-commit batch sizes and
store times, and how far the views are behind the log (computed when scraped)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ledger_http_requests",
            "HTTP requests by route and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "ledger_http_request_duration_seconds",
            "HTTP request latency",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "ledger_commit_batch_commands",
            "Commands per stored batch (group commit)",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "ledger_commit_batch_seconds",
            "Time to decide and store one batch",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.view_failures = Gauge(
            "ledger_view_follower_failures",
            "Rounds in which the views follower failed to catch up, since the server started (each is logged)",
            registry=self.registry,
        )
        self.snapshot_refusals = Gauge(
            "ledger_snapshot_refusals",
            "Snapshots refused since the server started (forged, edited or unsealed; each is logged): "
            "the aggregate was loaded from its events instead",
            registry=self.registry,
        )
        self.view_lag = Gauge(
            "ledger_view_lag_events", "Events the slowest view is behind the log", registry=self.registry
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_batch(self, commands: int, seconds: float) -> None:
        self.batch_size.observe(commands)
        self.batch_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
