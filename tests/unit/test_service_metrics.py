"""The server's request metrics (infra.service.metrics): every request is counted and timed
under its own labels, whether its label set's series were remembered or not."""

from __future__ import annotations

from infra.service import metrics as metrics_module
from infra.service.metrics import Metrics


def counted(metrics: Metrics, route: str, status: str) -> float | None:
    return metrics.registry.get_sample_value(
        "ledger_http_requests_total", {"method": "POST", "route": route, "status": status}
    )


def timed(metrics: Metrics, route: str) -> float | None:
    return metrics.registry.get_sample_value(
        "ledger_http_request_duration_seconds_count", {"method": "POST", "route": route}
    )


def test_each_request_is_counted_and_timed_under_its_labels():
    metrics = Metrics()
    for status in (200, 200, 200, 401):
        metrics.observe_request("POST", "/v1/commands", status, 0.01)
    assert counted(metrics, "/v1/commands", "200") == 3
    assert counted(metrics, "/v1/commands", "401") == 1
    assert timed(metrics, "/v1/commands") == 4


def test_past_the_memo_s_bound_requests_are_still_counted(monkeypatch):
    monkeypatch.setattr(metrics_module, "LABEL_SETS_MAX", 1)
    metrics = Metrics()
    for route in ("/a", "/b", "/b", "/c", "/a"):
        metrics.observe_request("POST", route, 200, 0.01)
    assert [counted(metrics, route, "200") for route in ("/a", "/b", "/c")] == [2, 2, 1]
    assert len(metrics._series) == 1
