"""Encrypt files and upload only the blobs the relay lacks: the upload pipeline behind every submission.

Files use convergent keys (crypto.file_key), so the same file of the same account becomes the same
blob and is never sent twice. Hashes are cached by path, size and mtime (hash_cache), so an unchanged
project is not re-read. Hashing of later batches overlaps the uploads of earlier ones.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from . import crypto
from .hash_cache import HashCache, key_id
from .relay_blobs import BlobEndpoints, Progress

KEEP_CIPHERTEXT_BELOW = 8 << 20  # small files are encrypted once and kept in memory until uploaded
PREPARE_AHEAD = 3  # batches (of up to 64 MiB) being hashed at once; bounds the small files' kept ciphertext


@dataclass(frozen=True)
class UploadedFile:
    """What a manifest needs to find and open one file again."""

    path: str
    size: int
    plaintext_sha256: str
    blob_id: str
    blob_size: int
    key: bytes


@dataclass
class _Prepared:
    """A file on its way up: blob_id is None until the relay names it (token upload)."""

    path: str
    size: int
    plain: bytes
    key: bytes
    blob_size: int
    blob_id: str | None
    token: str

    @property
    def name(self) -> str:
        return self.blob_id or self.token


@dataclass
class UploadReport:
    files: list[UploadedFile]
    blobs_total: int
    blobs_uploaded: int
    bytes_uploaded: int


class FileUploader:
    """Uploads files through `blobs`, remembering hashes and blob ids in `hash_cache`."""

    def __init__(self, blobs: BlobEndpoints, hash_cache: HashCache | None = None):
        self.blobs = blobs
        self.hash_cache = hash_cache or HashCache(None)

    def _prepare(self, path: str, convergent_secret: bytes) -> tuple[_Prepared, bytes | None]:
        """Hash (cached) and derive the convergent key. The blob id comes from the hash cache, or for a
        small file from encrypting it here (the ciphertext is kept for the upload); a large file is left
        for the relay to name while it streams, so its bytes are encrypted once and hashed once."""
        plain = self.hash_cache.plaintext_sha256(path)
        key = crypto.file_key(convergent_secret, plain)
        size = os.path.getsize(path)
        blob_size = crypto.ciphertext_size(size)
        item = _Prepared(path, size, plain, key, blob_size, None, _upload_token(key))
        known = self.hash_cache.blob_for(plain, key_id(convergent_secret))
        if known:
            item.blob_id = known[0]
            return item, None
        if blob_size > KEEP_CIPHERTEXT_BELOW:
            return item, None
        with open(path, "rb") as f:
            ciphertext = b"".join(crypto.iter_encrypt(key, f))
        item.blob_id = hashlib.sha256(ciphertext).hexdigest()
        self.hash_cache.remember_blob(plain, key_id(convergent_secret), item.blob_id, blob_size)
        return item, ciphertext

    def upload_files(
        self,
        paths: Iterable[str | os.PathLike],
        convergent_secret: bytes,
        *,
        progress: Progress | None = None,
        workers: int = 4,
    ) -> UploadReport:
        """Encrypt and upload files, sending only blobs the relay lacks. Safe to repeat after a failure.

        Works in batches so hashing the next batch overlaps uploading the previous one. Blobs whose id
        is known (hash cache, small files) are checked with one /blobs/missing call per batch; large
        new files stream straight to the relay under a token derived from their key, which finds an
        already stored blob as well. Progress counts ciphertext bytes; blobs the relay already has
        count as done at once.
        """
        paths = [str(p) for p in paths]
        sizes = [os.path.getsize(p) for p in paths]
        tracker = _ProgressTracker(sum(crypto.ciphertext_size(n) for n in sizes), progress)
        secret_id = key_id(convergent_secret)
        prepared: dict[int, _Prepared] = {}  # by position in `paths`
        uploads: dict[str, Future] = {}  # one per blob id or token: duplicates share it

        def upload(item: _Prepared, ciphertext: bytes | None) -> tuple[str, int, bool]:
            source = _bytes_source(ciphertext) if ciphertext is not None else _encrypting_source(item.path, item.key)
            report = tracker.for_item(item.name)
            if item.blob_id:
                return item.blob_id, self.blobs.upload_blob(item.blob_id, item.blob_size, source, report), True
            blob_id, sent, fresh = self.blobs.upload_by_token(item.token, item.blob_size, source, report)
            self.hash_cache.remember_blob(item.plain, secret_id, blob_id, item.blob_size)
            if not fresh:
                tracker.finished(item.name, item.blob_size)
            return blob_id, sent, fresh

        with ThreadPoolExecutor(workers) as prep_pool, ThreadPoolExecutor(workers) as up_pool:
            batches = _batches(list(enumerate(zip(paths, sizes, strict=True))), size_of=lambda e: e[1][1])
            queued: list[list[tuple[int, Future]]] = []

            def queue_next_batch() -> None:
                batch = next(batches, None)
                if batch is not None:
                    queued.append([(i, prep_pool.submit(self._prepare, p, convergent_secret)) for i, (p, _) in batch])

            # Batches are prepared ahead and handled as each completes, in any order: while a lone large
            # file is hashed, the other preparers go on with later files and their uploads start at once
            # (handled in order, the big file's hash would run on one core with nothing beside it).
            for _ in range(PREPARE_AHEAD):
                queue_next_batch()
            while queued:
                wait(
                    [f for batch in queued for _, f in batch if not f.done()] or [_done(None)],
                    return_when=FIRST_COMPLETED,
                )
                finished = next((b for b in queued if all(f.done() for _, f in b)), None)
                if finished is None:
                    continue
                queued.remove(finished)
                queue_next_batch()
                ready = [(i, *f.result()) for i, f in finished]
                known = {item.blob_id for _, item, _ in ready if item.blob_id} - uploads.keys()
                missing = set(self.blobs.missing(known)) if known else set()
                for i, item, ciphertext in ready:
                    prepared[i] = item
                    if item.name in uploads:  # a duplicate file: its blob is already on its way
                        tracker.finished(f"file {i}", item.blob_size)
                    elif item.blob_id and item.blob_id not in missing:
                        uploads[item.name] = _done((item.blob_id, 0, False))
                        tracker.finished(item.name, item.blob_size)
                    else:
                        uploads[item.name] = up_pool.submit(upload, item, ciphertext)
                # Bound what waits in memory (kept ciphertext of small files) when uploads lag behind.
                # (Wait on the pending ones only: a finished future would make wait() return at once.)
                while len(pending := [u for u in uploads.values() if not u.done()]) > 4 * workers:
                    wait(pending, return_when=FIRST_COMPLETED)
            results = {name: u.result() for name, u in uploads.items()}
        files = [
            UploadedFile(i.path, i.size, i.plain.hex(), results[i.name][0], i.blob_size, i.key)
            for i in (prepared[n] for n in range(len(paths)))
        ]
        uploaded = [r for r in results.values() if r[2]]
        return UploadReport(
            files, len({r[0] for r in results.values()}), len(uploaded), sum(r[1] for r in results.values())
        )


# ---- helpers


def _upload_token(key: bytes) -> str:
    """Session name for a file the relay names: fixed by the file's convergent key, so a second upload of
    the same file by the same requester finds the blob; reveals nothing without the key."""
    return hashlib.sha256(b"render-farm/upload-token|" + key).hexdigest()


def _done(value) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _bytes_source(data: bytes) -> Callable[[int], Iterator[memoryview]]:
    def source(offset: int) -> Iterator[memoryview]:
        view = memoryview(data)
        for i in range(offset, len(data), 4 << 20):
            yield view[i : i + (4 << 20)]

    return source


def _encrypting_source(path: str, key: bytes) -> Callable[[int], Iterator[memoryview]]:
    # Views into reused buffers: each is sent before the next is made (see crypto.iter_encrypt_views).
    def source(offset: int) -> Iterator[memoryview]:
        with open(path, "rb", buffering=0) as f:
            yield from crypto.iter_encrypt_views(key, f, start_offset=offset)

    return source


class _ProgressTracker:
    """Sums per-item progress into one (done, total) callback across parallel uploads."""

    def __init__(self, total: int, callback: Progress | None):
        self.total, self.callback = total, callback
        self.done: dict[str, int] = {}
        self.lock = threading.Lock()

    def _set(self, item: str, done_bytes: int) -> None:
        if not self.callback:
            return
        with self.lock:
            self.done[item] = done_bytes
            done = sum(self.done.values())
        self.callback(min(done, self.total), self.total)

    def finished(self, item: str, size: int) -> None:
        self._set(item, size)

    def for_item(self, item: str) -> Progress | None:
        if not self.callback:
            return None
        return lambda offset, _size: self._set(item, offset)


def _batches(items: list, size_of: Callable, max_bytes: int = 64 << 20, max_files: int = 512):
    batch, size = [], 0
    for item in items:
        if batch and (size + size_of(item) > max_bytes or len(batch) >= max_files):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += size_of(item)
    if batch:
        yield batch
