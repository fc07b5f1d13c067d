"""Prometheus metrics of the embedded model's saved states (backends/state_cache.py), read
from its counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from anima.backends.state_cache import StateCache


class StateCacheCollector(Collector):
    def __init__(self, cache: StateCache) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        stats = self._cache.stats
        hits = CounterMetricFamily(
            "anima_llm_state_cache_hits",
            "Prompts that started from a kept model state, by where it was found",
            labels=["source"],
        )
        for source, n in stats.hits.items():
            hits.add_metric([source], n)
        yield hits
        yield CounterMetricFamily(
            "anima_llm_state_cache_misses",
            "Prompts whose persona had to be evaluated (and was then kept)",
            value=stats.misses,
        )
        evictions = CounterMetricFamily(
            "anima_llm_state_cache_evictions",
            "Kept model states dropped to stay under the byte budget",
            labels=["tier"],
        )
        evictions.add_metric(["memory"], stats.evictions)
        evictions.add_metric(["disk"], stats.disk_evictions)
        yield evictions
        yield CounterMetricFamily(
            "anima_llm_state_cache_corrupt_files",
            "Saved state files ignored (truncated, altered, another model) and rebuilt",
            value=stats.corrupt_files,
        )
        size = GaugeMetricFamily(
            "anima_llm_state_cache_bytes", "Bytes of kept model states", labels=["tier"]
        )
        size.add_metric(["memory"], stats.memory_bytes)
        size.add_metric(["disk"], stats.disk_bytes)
        yield size
        entries = GaugeMetricFamily(
            "anima_llm_state_cache_entries", "Kept model states", labels=["tier"]
        )
        entries.add_metric(["memory"], stats.memory_entries)
        entries.add_metric(["disk"], stats.disk_entries)
        yield entries
