"""Scrapes the gateway's Prometheus `/metrics` once a second during the run, when it has one.

A gateway that is not loadgate's may have no metrics at all: then the run says "unavailable"
and every figure that would have come from them is reported as unavailable, never as zero.
Histogram buckets are left out; counters and gauges are kept per label set, e.g.
`gateway_cache_lookups_total{outcome="hit"}`. Prometheus allows NaN and ±Inf samples: they are
kept as they are (the result file stores them as "NaN"/"Infinity" and reads them back), and a
series' max is taken over its other values.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from reports.result import GatewayMetrics, MetricSeries

SCRAPE_INTERVAL_S = 1.0


def parse_metrics(text: str) -> dict[str, float]:
    """Counter and gauge samples of a Prometheus text page, by name with labels."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.type not in ("counter", "gauge"):
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


class MetricsScraper:
    """Scrapes `url` from `start()` until `stop()`; `summary()` gives first/last/max by series."""

    def __init__(
        self,
        url: str,
        interval_s: float = SCRAPE_INTERVAL_S,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._url = url
        self._headers = dict(headers or {})
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-scraper", daemon=True)
        self._scrapes: list[dict[str, float]] = []
        self._unavailable = ""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> GatewayMetrics:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.summary()

    def summary(self) -> GatewayMetrics:
        if not self._scrapes:
            return GatewayMetrics(available=False, reason=self._unavailable or "no scrape")
        names = {name for scrape in self._scrapes for name in scrape}
        series = {}
        for name in sorted(names):
            values = [scrape[name] for scrape in self._scrapes if name in scrape]
            # A labelled series appears at its first use: before that it was 0.
            first = self._scrapes[0].get(name, 0.0)
            numbers = [value for value in values if not math.isnan(value)]
            peak = max(numbers) if numbers else math.nan
            series[name] = MetricSeries(first=first, last=values[-1], max=peak)
        return GatewayMetrics(available=True, scrapes=len(self._scrapes), series=series)

    def _run(self) -> None:
        with httpx.Client(timeout=2.0, headers=self._headers) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self._url)
                except httpx.HTTPError:
                    pass  # restarting or shutting down: try again
                else:
                    if response.status_code != 200:
                        if not self._scrapes:
                            self._unavailable = f"{self._url} answered {response.status_code}"
                            return
                    else:
                        try:
                            self._scrapes.append(parse_metrics(response.text))
                        except ValueError:
                            self._unavailable = f"{self._url} is not Prometheus text"
                            return
                self._stop.wait(self._interval_s)
