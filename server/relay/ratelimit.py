"""Per-client token buckets: each key (an address, or a client IP before authentication) gets `rate`
requests per second with bursts of `burst`. Buckets idle long enough to be full again are forgotten
(swept at most every PRUNE_EVERY seconds), so a flood of fresh keys cannot grow the map for long.
"""

from __future__ import annotations

import threading
import time

PRUNE_EVERY = 10.0


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._pruned = clock()
        # A bucket untouched this long has refilled completely: dropping it changes nothing.
        self._idle = burst / rate if rate > 0 else float("inf")

    def _tokens(self, who: str, now: float) -> float:
        tokens, last = self._buckets.get(who, (float(self.burst), now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def allow(self, who: str) -> float:
        """Take one token: 0 if allowed, else the seconds to wait before retrying."""
        now = self.clock()
        with self._lock:
            if now - self._pruned > PRUNE_EVERY:
                self._prune(now)
            tokens = self._tokens(who, now)
            if tokens >= 1:
                self._buckets[who] = (tokens - 1, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            return (1 - tokens) / self.rate

    def peek(self, who: str) -> float:
        """Like allow() without taking a token: 0 while `who` has one left."""
        now = self.clock()
        with self._lock:
            if who not in self._buckets:
                return 0.0
            tokens = self._tokens(who, now)
            return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        self._pruned = now
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self._idle}

    def __len__(self) -> int:
        return len(self._buckets)
