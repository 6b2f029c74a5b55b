"""Everything a request handler needs, built once per relay process."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .authority import JobAuthority
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
    # Publishing a blob, collecting it and leasing it to a download must not interleave.
    publish_lock: threading.Lock = field(default_factory=threading.Lock)
    # Held by whoever uses them (a request, a follower): entries vanish with their last user.
    upload_locks: weakref.WeakValueDictionary = field(default_factory=weakref.WeakValueDictionary)
    progress_events: weakref.WeakValueDictionary = field(default_factory=weakref.WeakValueDictionary)
    downloads: Counter = field(default_factory=Counter)  # blob id -> downloads in progress (GC skips them)
    # Guards `downloads` and GC's decision to delete; never held across disk I/O (taken on the loop).
    lease_lock: threading.Lock = field(default_factory=threading.Lock)
    inflight: int = 0  # /v1 requests being handled
    inflight_by_ip: Counter = field(default_factory=Counter)

    def __post_init__(self):
        cfg = self.config
        if self.limiter is None:
            self.limiter = RateLimiter(cfg.rate_per_second, cfg.rate_burst)
        self.ip_limiter = RateLimiter(cfg.ip_rate, cfg.ip_burst)
        self.ip_fail_limiter = RateLimiter(cfg.ip_fail_rate, cfg.ip_fail_burst)

    def lease_download(self, blob_id: str) -> bool:
        """Keep GC off this blob until release_download; False if it is not stored (any more)."""
        with self.lease_lock:
            if self.meta.blob_size(blob_id) is None or self.blobs.blob_path(blob_id) is None:
                return False
            self.downloads[blob_id] += 1
            return True

    def release_download(self, blob_id: str) -> None:
        with self.lease_lock:
            self.downloads[blob_id] -= 1
            if self.downloads[blob_id] <= 0:
                del self.downloads[blob_id]

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
