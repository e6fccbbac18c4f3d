"""Prometheus metrics of one server: requests, latency histograms, group-commit batch sizes and
store times, and how far the views are behind the log (computed when scraped)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000)
LABEL_SETS_MAX = 1_000


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
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
        """Counted and timed under its labels; each label set's two series are looked up once
        (prometheus_client's `labels` checks and locks on every call: about 2% of the event
        loop under load). The labels are a route's template, a method and a status: a bounded
        set, and the memo stops growing at LABEL_SETS_MAX all the same."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self.requests.labels(method, route, str(status)), self.latency.labels(method, route)
            if len(self._series) < LABEL_SETS_MAX:
                self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def observe_batch(self, commands: int, seconds: float) -> None:
        self.batch_size.observe(commands)
        self.batch_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
