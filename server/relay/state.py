"""Everything a request handler needs, built once per relay process."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from addon.farm.authority import JobAuthority

from .config import RelayConfig
from .fs_blobs import FileBlobStore
from .metrics import Metrics
from .nonces import NonceStore
from .ratelimit import RateLimiter
from .sqlite_meta import SqliteMetadata

# Worker threads for blocking calls (as many as anyio's default limiter allowed).
_POOL = ThreadPoolExecutor(max_workers=40, thread_name_prefix="relay-io")


@dataclass
class RelayState:
    config: RelayConfig
    meta: SqliteMetadata
    blobs: FileBlobStore
    authority: JobAuthority
    nonces: NonceStore
    metrics: Metrics = field(default_factory=Metrics)
    limiter: RateLimiter | None = None
    # Publishing a blob and collecting it must not interleave (a re-upload racing a deletion).
    publish_lock: threading.Lock = field(default_factory=threading.Lock)
    upload_locks: dict = field(default_factory=dict)
    progress_events: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.limiter is None:
            self.limiter = RateLimiter(self.config.rate_per_second, self.config.rate_burst)

    async def run(self, fn, *args):
        """Run blocking work (disk, SQLite, chain calls) off the event loop.

        A plain executor hop: about half the CPU of anyio.to_thread (no capacity limiter, cancel scope or
        run-var lookups), which the relay pays several times per upload. Like anyio's default it does
        not abandon the thread when the caller is cancelled: it waits for the work to finish first.
        """
        future = asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise

    def upload_lock(self, key) -> asyncio.Lock:
        lock = self.upload_locks.get(key)
        if lock is None:
            lock = self.upload_locks[key] = asyncio.Lock()
        return lock

    def progress_event(self, job_id: int) -> asyncio.Event:
        event = self.progress_events.get(job_id)
        if event is None:
            event = self.progress_events[job_id] = asyncio.Event()
        return event

    def notify_progress(self, job_id: int) -> None:
        # Wake current followers and give later ones a fresh event.
        event = self.progress_events.pop(job_id, None)
        if event:
            event.set()
