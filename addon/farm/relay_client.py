"""Client of the relay, used by the add-on (requester) and the provider agent.

Every request is signed with the caller's Stacks key (see relay_protocol). Uploads send only the
blobs the relay lacks, in parallel, resume from the relay's persisted offset after any failure, and
retry with exponential backoff; downloads resume with Range and verify the blob id while streaming.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from addon.stacks.message import sign_message

from . import crypto
from . import relay_protocol as proto
from .hash_cache import HashCache, key_id

PART_SIZE = 64 << 20  # bytes per PUT: one S3 multipart part on an S3 backend
KEEP_CIPHERTEXT_BELOW = 8 << 20  # small files are encrypted once and kept in memory until uploaded
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class RelayRequestError(Exception):
    """The relay refused a request; `code` and `details` come from its JSON error body."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(f"relay refused ({status} {code}): {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or {}


class RelayUnavailable(Exception):
    """The relay could not be reached (or kept failing) after all retries."""


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
class UploadReport:
    files: list[UploadedFile]
    blobs_total: int
    blobs_uploaded: int
    bytes_uploaded: int


class RelayClient:
    def __init__(
        self,
        base_url: str,
        private_key: str,
        *,
        timeout: float = 60.0,
        retries: int = 6,
        backoff: float = 0.25,
        part_size: int = PART_SIZE,
        hash_cache: HashCache | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.private_key = private_key
        self.retries, self.backoff, self.part_size = retries, backoff, part_size
        self.hash_cache = hash_cache or HashCache(None)
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), limits=httpx.Limits(max_connections=64))
        self._sent_lock = threading.Lock()
        self.bytes_sent = 0  # blob bytes put on the wire (for progress and tests)
        self.upload_interruptions = 0  # uploads that broke off and were resumed

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- signed requests

    def _headers(self, method: str, path: str, content_sha256: str) -> dict:
        timestamp, nonce = int(time.time()), secrets.token_urlsafe(18)
        message = proto.canonical_request(method, path, content_sha256, timestamp, nonce)
        return {
            proto.SIGNATURE_HEADER: sign_message(message, self.private_key),
            proto.TIMESTAMP_HEADER: str(timestamp),
            proto.NONCE_HEADER: nonce,
            proto.CONTENT_HASH_HEADER: content_sha256,
        }

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        stream_body=None,
        headers=None,
        stream: bool = False,
    ) -> httpx.Response:
        """One signed attempt. `stream_body` (an iterator of bytes) is sent unsigned, for blob bytes."""
        digest = proto.UNSIGNED_PAYLOAD if stream_body is not None else proto.body_hash(body)
        all_headers = self._headers(method, path, digest) | (headers or {})
        content = stream_body if stream_body is not None else body
        request = self.http.build_request(method, self.base_url + path, content=content, headers=all_headers)
        return self.http.send(request, stream=stream)

    def request(
        self, method: str, path: str, *, json_body=None, headers=None, stream=False, ok=(200, 201, 204, 206)
    ) -> httpx.Response:
        """Signed request with retries on network errors, 5xx and 429; other errors raise at once."""
        body = b"" if json_body is None else _json_bytes(json_body)
        hdrs = dict(headers or {})
        if json_body is not None:
            hdrs["content-type"] = "application/json"
        for attempt in range(self.retries + 1):
            try:
                response = self._send(method, path, body=body, headers=hdrs, stream=stream)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise RelayUnavailable(f"relay at {self.base_url} unreachable: {exc}") from exc
                self._sleep(attempt)
                continue
            if response.status_code in ok:
                return response
            if response.status_code in RETRYABLE_STATUS and attempt < self.retries:
                response.close()
                self._sleep(attempt, response.headers.get("retry-after"))
                continue
            raise _error_from(response)
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int, retry_after: str | None = None) -> None:
        delay = min(10.0, self.backoff * (2**attempt)) * (0.5 + random.random() / 2)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        time.sleep(delay)

    # ---- blobs

    def info(self) -> dict:
        return self.http.get(self.base_url + "/v1/info").json()

    def missing(self, blob_ids: Iterable[str]) -> list[str]:
        ids, out = list(dict.fromkeys(blob_ids)), []
        for i in range(0, len(ids), 10_000):
            out += self.request("POST", "/v1/blobs/missing", json_body={"blob_ids": ids[i : i + 10_000]}).json()[
                "missing"
            ]
        return out

    def upload_status(self, blob_id: str) -> dict:
        return self.request("GET", f"/v1/uploads/{blob_id}").json()

    def upload_blob(
        self,
        blob_id: str,
        size: int,
        source: Callable[[int], Iterator[bytes]],
        progress: Progress | None = None,
    ) -> int:
        """Upload one blob; `source(offset)` yields its bytes from `offset`. Returns bytes sent.

        After a dropped connection, a relay restart or a refused part, it asks the relay for its
        persisted offset and continues from there.
        """
        sent_total, failures = 0, 0
        while True:
            status = self.request("POST", "/v1/uploads", json_body={"blob_id": blob_id, "size": size}).json()
            if status["complete"]:
                return sent_total
            offset = status["offset"]
            if progress:
                progress(offset, size)
            end = min(size, offset + self.part_size)
            counted = _Counter(_limit(source(offset), end - offset), self._count_sent)
            try:
                response = self._send("PUT", f"/v1/uploads/{blob_id}?offset={offset}", stream_body=iter(counted))
            except httpx.TransportError as exc:
                sent_total += counted.n
                failures += 1
                with self._sent_lock:
                    self.upload_interruptions += 1
                if failures > self.retries:
                    raise RelayUnavailable(f"upload of {blob_id} keeps failing: {exc}") from exc
                self._sleep(failures - 1)
                continue
            sent_total += counted.n
            if response.status_code == 200:
                failures = 0
                result = response.json()
                if progress:
                    progress(result["offset"], size)
                if result["complete"]:
                    return sent_total
                continue
            error = _error_from(response)
            if error.code in ("offset_mismatch", "upload_busy") or response.status_code in RETRYABLE_STATUS:
                failures += 1
                if failures > self.retries:
                    raise error
                self._sleep(failures - 1, response.headers.get("retry-after"))
                continue
            raise error

    def _count_sent(self, n: int) -> None:
        with self._sent_lock:
            self.bytes_sent += n

    def download_blob(self, blob_id: str, dst: BinaryIO, *, start: int = 0) -> int:
        """Write the blob (from byte `start`) to `dst`, verifying its id when starting at 0."""
        h = hashlib.sha256() if start == 0 else None
        n = 0
        for chunk in self.iter_blob(blob_id, start=start):
            if h:
                h.update(chunk)
            dst.write(chunk)
            n += len(chunk)
        if h and h.hexdigest() != blob_id:
            raise RelayRequestError(200, "corrupt_download", f"downloaded bytes do not hash to {blob_id}")
        return n

    def iter_blob(self, blob_id: str, *, start: int = 0) -> Iterator[bytes]:
        """Blob bytes from `start`; reconnects with a Range request where a transfer broke off."""
        position, failures = start, 0
        while True:
            headers = {"range": f"bytes={position}-"} if position else {}
            response = self.request("GET", f"/v1/blobs/{blob_id}", headers=headers, stream=True)
            try:
                for chunk in response.iter_bytes(1 << 20):
                    position += len(chunk)
                    yield chunk
                return
            except httpx.TransportError as exc:
                failures += 1
                if failures > self.retries:
                    raise RelayUnavailable(f"download of {blob_id} keeps failing: {exc}") from exc
                self._sleep(failures - 1)
            finally:
                response.close()

    def download_file(self, blob_id: str, key: bytes, destination: str | os.PathLike) -> int:
        """Download, verify and decrypt a blob into `destination` (written atomically). Returns its size."""
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(destination.name + ".part")
        h = hashlib.sha256()

        def hashed():
            for chunk in self.iter_blob(blob_id):
                h.update(chunk)
                yield chunk

        n = 0
        try:
            with open(tmp, "wb") as out:
                for plain in crypto.iter_decrypt(key, hashed()):
                    out.write(plain)
                    n += len(plain)
            if h.hexdigest() != blob_id:
                raise RelayRequestError(200, "corrupt_download", f"downloaded bytes do not hash to {blob_id}")
            os.replace(tmp, destination)
        finally:
            tmp.unlink(missing_ok=True)
        return n

    # ---- encrypted files

    def prepare_file(self, path: str | os.PathLike, requester_secret: bytes) -> tuple[UploadedFile, bytes | None]:
        """Hash (cached), derive the convergent key, find the blob id. Small files keep their ciphertext."""
        path = str(path)
        plain = self.hash_cache.plaintext_sha256(path)
        key = crypto.file_key(requester_secret, plain)
        size = os.path.getsize(path)
        known = self.hash_cache.blob_for(plain, key_id(requester_secret))
        ciphertext = None
        if known:
            blob_id, blob_size = known
        else:
            blob_size = crypto.ciphertext_size(size)
            h = hashlib.sha256()
            keep = [] if blob_size <= KEEP_CIPHERTEXT_BELOW else None
            with open(path, "rb") as f:
                for chunk in crypto.iter_encrypt(key, f):
                    h.update(chunk)
                    if keep is not None:
                        keep.append(chunk)
            blob_id = h.hexdigest()
            ciphertext = b"".join(keep) if keep is not None else None
            self.hash_cache.remember_blob(plain, key_id(requester_secret), blob_id, blob_size)
        return UploadedFile(path, size, plain.hex(), blob_id, blob_size, key), ciphertext

    def upload_files(
        self,
        paths: Iterable[str | os.PathLike],
        requester_secret: bytes,
        *,
        progress: Progress | None = None,
        workers: int = 4,
    ) -> UploadReport:
        """Encrypt and upload files, sending only blobs the relay lacks. Safe to repeat after a failure.

        Works in batches so hashing and encrypting the next batch overlaps uploading the previous one.
        Progress counts ciphertext bytes; blobs the relay already has count as done at once.
        """
        paths = [str(p) for p in paths]
        sizes = [os.path.getsize(p) for p in paths]
        tracker = _ProgressTracker(sum(crypto.ciphertext_size(n) for n in sizes), progress)
        prepared_all: list[UploadedFile] = []
        seen: set[str] = set()
        uploads = []

        def upload(f: UploadedFile, ct: bytes | None) -> int:
            source = _bytes_source(ct) if ct is not None else _encrypting_source(f.path, f.key)
            return self.upload_blob(f.blob_id, f.blob_size, source, tracker.for_item(f.blob_id))

        with ThreadPoolExecutor(workers) as prep_pool, ThreadPoolExecutor(workers) as up_pool:
            for batch in _batches(list(zip(paths, sizes, strict=True))):
                prepared = list(prep_pool.map(lambda p: self.prepare_file(p[0], requester_secret), batch))
                prepared_all += [f for f, _ in prepared]
                missing = set(self.missing({f.blob_id for f, _ in prepared} - seen))
                for index, (f, ct) in enumerate(prepared):
                    if f.blob_id in missing and f.blob_id not in seen:
                        uploads.append(up_pool.submit(upload, f, ct))
                    else:
                        tracker.finished(f"{len(prepared_all)}/{index}", f.blob_size)
                    seen.add(f.blob_id)
                # Bound what waits in memory (kept ciphertext of small files) when uploads lag behind.
                while sum(not u.done() for u in uploads) > 4 * workers:
                    wait(uploads, return_when=FIRST_COMPLETED)
            sent = sum(u.result() for u in uploads)
        return UploadReport(prepared_all, len(seen), len(uploads), sent)

    # ---- job documents

    def put_scene_manifest(self, job_id: int, ciphertext: bytes, blob_ids: Iterable[str]) -> dict:
        return self._put_document(job_id, "scene-manifest", ciphertext, blob_ids)

    def get_scene_manifest(self, job_id: int) -> tuple[bytes, list[str]]:
        return self._get_document(job_id, "scene-manifest")

    def put_result_manifest(self, job_id: int, ciphertext: bytes, blob_ids: Iterable[str]) -> dict:
        return self._put_document(job_id, "result-manifest", ciphertext, blob_ids)

    def get_result_manifest(self, job_id: int) -> tuple[bytes, list[str]]:
        return self._get_document(job_id, "result-manifest")

    def _put_document(self, job_id: int, kind: str, ciphertext: bytes, blob_ids: Iterable[str]) -> dict:
        body = {"ciphertext": base64.b64encode(ciphertext).decode(), "blob_ids": list(blob_ids)}
        return self.request("PUT", f"/v1/jobs/{int(job_id)}/{kind}", json_body=body).json()

    def _get_document(self, job_id: int, kind: str) -> tuple[bytes, list[str]]:
        doc = self.request("GET", f"/v1/jobs/{int(job_id)}/{kind}").json()
        return base64.b64decode(doc["ciphertext"]), doc["blob_ids"]

    def put_preview(self, job_id: int, name: str, ciphertext: bytes) -> dict:
        body = {"ciphertext": base64.b64encode(ciphertext).decode()}
        return self.request("PUT", f"/v1/jobs/{int(job_id)}/previews/{name}", json_body=body).json()

    def list_previews(self, job_id: int) -> list[dict]:
        return self.request("GET", f"/v1/jobs/{int(job_id)}/previews").json()

    def get_preview(self, job_id: int, name: str) -> bytes:
        return self.request("GET", f"/v1/jobs/{int(job_id)}/previews/{name}").content

    def job_summary(self, job_id: int) -> dict:
        return self.request("GET", f"/v1/jobs/{int(job_id)}").json()

    def delete_job(self, job_id: int) -> None:
        self.request("DELETE", f"/v1/jobs/{int(job_id)}")

    def post_progress(
        self,
        job_id: int,
        frames_done: int,
        frames_total: int,
        eta_seconds: float | None = None,
        message: str = "",
    ) -> int:
        body = {
            "frames_done": frames_done,
            "frames_total": frames_total,
            "eta_seconds": eta_seconds,
            "message": message,
        }
        return self.request("POST", f"/v1/jobs/{int(job_id)}/progress", json_body=body).json()["seq"]

    def progress(self, job_id: int, after: int = 0, wait: float = 0) -> dict:
        """Heartbeats after `after`; with `wait`, the relay holds the request until one arrives."""
        return self.request("GET", f"/v1/jobs/{int(job_id)}/progress?after={int(after)}&wait={wait:g}").json()

    def follow_progress(self, job_id: int, after: int = 0, wait: float = 30) -> Iterator[dict]:
        """Yield heartbeats as they arrive (long-poll), forever; stop by breaking out of the loop."""
        while True:
            page = self.progress(job_id, after, wait)
            yield from page["events"]
            after = page["last_seq"]


# ---- helpers


def _json_bytes(obj) -> bytes:
    import json

    return json.dumps(obj, separators=(",", ":")).encode()


def _error_from(response: httpx.Response) -> RelayRequestError:
    try:
        response.read()
        err = response.json().get("error", {})
        details = {k: v for k, v in err.items() if k not in ("code", "message")}
        return RelayRequestError(response.status_code, err.get("code", "unknown"), err.get("message", ""), details)
    except Exception:
        return RelayRequestError(response.status_code, "unknown", response.text[:200])
    finally:
        response.close()


def _limit(chunks: Iterator[bytes], n: int) -> Iterator[bytes]:
    for chunk in chunks:
        if n <= 0:
            break
        if len(chunk) > n:
            chunk = chunk[:n]
        n -= len(chunk)
        yield chunk
    close = getattr(chunks, "close", None)
    if close:
        close()


class _Counter:
    def __init__(self, chunks: Iterator[bytes], on_sent: Callable[[int], None]):
        self.chunks, self.on_sent, self.n = chunks, on_sent, 0

    def __iter__(self):
        for chunk in self.chunks:
            yield chunk
            self.n += len(chunk)
            self.on_sent(len(chunk))


def _bytes_source(data: bytes) -> Callable[[int], Iterator[bytes]]:
    def source(offset: int) -> Iterator[bytes]:
        view = memoryview(data)
        for i in range(offset, len(data), 1 << 20):
            yield bytes(view[i : i + (1 << 20)])

    return source


def _encrypting_source(path: str, key: bytes) -> Callable[[int], Iterator[bytes]]:
    def source(offset: int) -> Iterator[bytes]:
        with open(path, "rb") as f:
            yield from crypto.iter_encrypt(key, f, start_offset=offset)

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


def _batches(items: list[tuple[str, int]], max_bytes: int = 64 << 20, max_files: int = 512):
    batch, size = [], 0
    for item in items:
        if batch and (size + item[1] > max_bytes or len(batch) >= max_files):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item[1]
    if batch:
        yield batch
