"""Counters and a latency histogram in the Prometheus text format, served at /metrics."""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self):
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, tuple], float] = defaultdict(float)
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_n = 0

    def inc(self, name: str, value: float = 1, **labels) -> None:
        with self._lock:
            self.counters[(name, tuple(sorted(labels.items())))] += value

    def observe_latency(self, seconds: float) -> None:
        with self._lock:
            i = next((i for i, b in enumerate(LATENCY_BUCKETS) if seconds <= b), len(LATENCY_BUCKETS))
            self.latency_counts[i] += 1
            self.latency_sum += seconds
            self.latency_n += 1

    def render(self, gauges: dict[str, float]) -> str:
        lines = []
        with self._lock:
            for (name, labels), value in sorted(self.counters.items()):
                label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"relay_{name}{{{label_text}}} {value:g}" if labels else f"relay_{name} {value:g}")
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, self.latency_counts, strict=False):
                cumulative += count
                lines.append(f'relay_request_seconds_bucket{{le="{bound}"}} {cumulative}')
            lines.append(f'relay_request_seconds_bucket{{le="+Inf"}} {self.latency_n}')
            lines.append(f"relay_request_seconds_sum {self.latency_sum:.6f}")
            lines.append(f"relay_request_seconds_count {self.latency_n}")
        for name, value in sorted(gauges.items()):
            lines.append(f"relay_{name} {value:g}")
        return "\n".join(lines) + "\n"
