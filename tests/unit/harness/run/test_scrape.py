"""Reading a gateway's Prometheus page and summarising it over a run."""

from __future__ import annotations

from harness.run.scrape import MetricsScraper, parse_metrics

PAGE = """# HELP gateway_cache_lookups_total Cache lookups by outcome
# TYPE gateway_cache_lookups_total counter
gateway_cache_lookups_total{outcome="hit"} 3.0
gateway_cache_lookups_created{outcome="hit"} 1.7e9
# TYPE gateway_in_flight_requests gauge
gateway_in_flight_requests 7.0
# TYPE gateway_upstream_latency_seconds histogram
gateway_upstream_latency_seconds_bucket{le="0.1"} 1.0
gateway_upstream_latency_seconds_count 1.0
gateway_upstream_latency_seconds_sum 0.05
"""


def test_counters_and_gauges_are_kept_by_label_set() -> None:
    """Counters and gauges by name and labels; histograms and _created are left out."""
    assert parse_metrics(PAGE) == {
        'gateway_cache_lookups_total{outcome="hit"}': 3.0,
        "gateway_in_flight_requests": 7.0,
    }


def test_a_series_that_appears_mid_run_started_at_zero() -> None:
    """A labelled counter first used during the run counts from 0, not from its first value."""
    scraper = MetricsScraper("http://127.0.0.1:9/metrics")
    scraper._scrapes = [{"a": 1.0}, {"a": 2.0, "b": 5.0}, {"a": 4.0, "b": 8.0}]
    summary = scraper.summary()
    assert summary.available
    assert summary.series["a"].first == 1.0 and summary.series["a"].last == 4.0
    assert summary.series["b"].first == 0.0 and summary.series["b"].max == 8.0


def test_nothing_scraped_is_unavailable_not_zero() -> None:
    """A gateway without metrics gives 'unavailable' with a reason."""
    summary = MetricsScraper("http://127.0.0.1:9/metrics").summary()
    assert not summary.available and summary.reason
