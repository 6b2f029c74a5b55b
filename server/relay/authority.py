"""Who may touch a job's data: its requester and its assigned provider, as recorded on chain.

`JobAuthority` is the interface the relay depends on. `ChainJobAuthority` reads the contract's
read-only `get-job`; `CachedJobAuthority` keeps answers briefly so a burst of requests costs one chain
call; `TableJobAuthority` is a local SQLite table standing in for the chain in tests and offline demos
(where the chain is not what is under test).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class JobParties:
    requester: str
    provider: str | None = None
    # sha256 of the encrypted scene manifest committed on chain, when the chain records one.
    scene_manifest_hash: bytes | None = None


class JobAuthority(Protocol):
    def parties(self, job_id: int) -> JobParties | None:
        """The job's parties, or None when no such job exists."""
        ...


class CachedJobAuthority:
    """Caches answers for `ttl` seconds (missing jobs for `negative_ttl`, as they may appear any moment)."""

    def __init__(
        self, inner: JobAuthority, ttl: float = 5.0, negative_ttl: float = 1.0, clock=time.monotonic
    ):
        self.inner, self.ttl, self.negative_ttl, self.clock = inner, ttl, negative_ttl, clock
        self._cache: dict[int, tuple[float, JobParties | None]] = {}
        self._lock = threading.Lock()

    def parties(self, job_id: int) -> JobParties | None:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(job_id)
            if hit and hit[0] > now:
                return hit[1]
        value = self.inner.parties(job_id)
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[job_id] = (now + (self.ttl if value else self.negative_ttl), value)
        return value

    def forget(self, job_id: int) -> None:
        """Drop a cached answer that the caller has reason to think is stale (the next read asks the chain)."""
        with self._lock:
            self._cache.pop(job_id, None)


class TableJobAuthority:
    """Job parties from a local SQLite table; a stand-in for the chain where the chain is not under test."""

    def __init__(self, path: str):
        self.path = path
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS jobs (job_id INTEGER PRIMARY KEY, requester TEXT NOT NULL,"
                " provider TEXT, scene_manifest_hash BLOB)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def set_job(self, job_id: int, requester: str, provider: str | None = None, scene_manifest_hash=None):
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?)",
                (job_id, requester, provider, scene_manifest_hash),
            )

    def parties(self, job_id: int) -> JobParties | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT requester, provider, scene_manifest_hash FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        return JobParties(row[0], row[1], row[2]) if row else None


class ChainJobAuthority:
    """Reads the contract's read-only `get-job` (through `addon.farm.contract.RenderFarm`).

    The relay's whole view of the chain is this class: a job's `requester`, its assigned `provider`
    and `scene-hash` (sha256 of the encrypted scene manifest for that provider; see docs/contract.md).
    """

    def __init__(self, client, contract_id: str):
        from addon.farm.contract import RenderFarm

        self.farm = RenderFarm(client, contract_id)

    def parties(self, job_id: int) -> JobParties | None:
        job = self.farm.get_job(job_id)
        if job is None:
            return None
        scene_hash = job.scene_hash if job.scene_hash and any(job.scene_hash) else None
        return JobParties(requester=job.requester, provider=job.provider, scene_manifest_hash=scene_hash)
