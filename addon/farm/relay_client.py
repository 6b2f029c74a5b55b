"""Client of the relay, used by the add-on (requester) and the provider agent.

Every request is signed with the caller's Stacks key (see relay_protocol). Uploads send only the
blobs the relay lacks, in parallel, resume from the relay's persisted offset after any failure, and
retry with exponential backoff; downloads resume with Range and verify the blob id while streaming.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import random
import secrets
import select
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from addon.stacks.message import sign_message

from . import crypto
from . import relay_protocol as proto
from .hash_cache import HashCache, key_id
from .relay_errors import RelayRefused, RelayUnavailable, error_from_response

PART_SIZE = 64 << 20  # bytes per PUT: one S3 multipart part on an S3 backend
KEEP_CIPHERTEXT_BELOW = 8 << 20  # small files are encrypted once and kept in memory until uploaded
PREPARE_AHEAD = 3  # batches (of up to 64 MiB) being hashed at once; bounds the small files' kept ciphertext
KEEPALIVE_REUSE = 4.0  # seconds an idle blob connection is reused (uvicorn closes them after 5)

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


RelayRequestError = RelayRefused  # the old name, until the callers move to relay_errors


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
        self._bodies = _BodySender(self.base_url, timeout)  # blob bytes: straight from our buffers to the socket
        self._sent_lock = threading.Lock()
        self.bytes_sent = 0  # blob bytes put on the wire (for progress and tests)
        self.upload_interruptions = 0  # uploads that broke off and were resumed

    def close(self) -> None:
        self.http.close()
        self._bodies.close()

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
        if stream_body is not None and self._bodies.usable:
            return self._bodies.send(method, path, all_headers, stream_body)
        if not stream and self._bodies.usable:  # a third of httpx's CPU per request
            if body or method in ("POST", "PUT", "PATCH"):
                all_headers["content-length"] = str(len(body))
            return self._bodies.send(method, path, all_headers, [body] if body else [], chunked=False)
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
            error = _error_from(response)
            if error.retryable and attempt < self.retries:
                self._sleep(attempt, response.headers.get("retry-after"))
                continue
            raise error
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
        return self._upload({"blob_id": blob_id}, blob_id, size, source, progress)[1]

    def upload_by_token(
        self,
        token: str,
        size: int,
        source: Callable[[int], Iterator[bytes]],
        progress: Progress | None = None,
    ) -> tuple[str, int, bool]:
        """Upload bytes whose sha256 is not computed here: the relay hashes them anyway to store them,
        so it names the blob and returns the id. `token` (64 hex digits) names the session; the same
        token later finds the stored blob without sending anything. Returns (blob id, bytes sent,
        whether the relay lacked the blob).

        Trusting the relay's id is safe: it is only a name; the bytes are authenticated by AES-GCM
        under a key the relay never sees, so a wrong id yields a download that fails to decrypt.
        """
        return self._upload({"token": token}, token, size, source, progress)

    def _upload(self, start: dict, name: str, size: int, source, progress) -> tuple[str, int, bool]:
        sent_total, failures, fresh = 0, 0, None
        while True:
            status = self.request("POST", "/v1/uploads", json_body=start | {"size": size}).json()
            if fresh is None:
                fresh = not status["complete"]
            if status["complete"]:
                return status["blob_id"], sent_total, fresh
            offset = status["offset"]
            if progress:
                progress(offset, size)
            end = min(size, offset + self.part_size)
            counted = _Counter(_limit(source(offset), end - offset), self._count_sent)
            try:
                response = self._send(
                    "PUT",
                    f"/v1/uploads/{name}?offset={offset}",
                    stream_body=iter(counted),
                    headers={"content-length": str(end - offset)},  # no chunked framing to build and parse
                )
            except httpx.TransportError as exc:
                sent_total += counted.n
                failures += 1
                with self._sent_lock:
                    self.upload_interruptions += 1
                if failures > self.retries:
                    raise RelayUnavailable(f"upload of {name} keeps failing: {exc}") from exc
                self._sleep(failures - 1)
                continue
            sent_total += counted.n
            if response.status_code == 200:
                failures = 0
                result = response.json()
                if progress:
                    progress(result["offset"], size)
                if result["complete"]:
                    return result["blob_id"], sent_total, fresh
                continue
            error = _error_from(response)
            if error.retryable:
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

    def _prepare(self, path: str, requester_secret: bytes) -> tuple[_Prepared, bytes | None]:
        """Hash (cached) and derive the convergent key. The blob id comes from the hash cache, or for a
        small file from encrypting it here (the ciphertext is kept for the upload); a large file is left
        for the relay to name while it streams, so its bytes are encrypted once and hashed once."""
        plain = self.hash_cache.plaintext_sha256(path)
        key = crypto.file_key(requester_secret, plain)
        size = os.path.getsize(path)
        blob_size = crypto.ciphertext_size(size)
        item = _Prepared(path, size, plain, key, blob_size, None, _upload_token(key))
        known = self.hash_cache.blob_for(plain, key_id(requester_secret))
        if known:
            item.blob_id = known[0]
            return item, None
        if blob_size > KEEP_CIPHERTEXT_BELOW:
            return item, None
        with open(path, "rb") as f:
            ciphertext = b"".join(crypto.iter_encrypt(key, f))
        item.blob_id = hashlib.sha256(ciphertext).hexdigest()
        self.hash_cache.remember_blob(plain, key_id(requester_secret), item.blob_id, blob_size)
        return item, ciphertext

    def upload_files(
        self,
        paths: Iterable[str | os.PathLike],
        requester_secret: bytes,
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
        secret_id = key_id(requester_secret)
        prepared: dict[int, _Prepared] = {}  # by position in `paths`
        uploads: dict[str, Future] = {}  # one per blob id or token: duplicates share it

        def upload(item: _Prepared, ciphertext: bytes | None) -> tuple[str, int, bool]:
            source = _bytes_source(ciphertext) if ciphertext is not None else _encrypting_source(item.path, item.key)
            report = tracker.for_item(item.name)
            if item.blob_id:
                return item.blob_id, self.upload_blob(item.blob_id, item.blob_size, source, report), True
            blob_id, sent, fresh = self.upload_by_token(item.token, item.blob_size, source, report)
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
                    queued.append([(i, prep_pool.submit(self._prepare, p, requester_secret)) for i, (p, _) in batch])

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
                missing = set(self.missing(known)) if known else set()
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


def _error_from(response: httpx.Response) -> RelayRefused:
    try:
        body = response.read()
    except httpx.HTTPError:
        body = b""
    finally:
        response.close()
    return error_from_response(response.status_code, body, response.headers)


def _upload_token(key: bytes) -> str:
    """Session name for a file the relay names: fixed by the file's convergent key, so a second upload of
    the same file by the same requester finds the blob; reveals nothing without the key."""
    return hashlib.sha256(b"render-farm/upload-token|" + key).hexdigest()


def _done(value) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


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


class _BodySender:
    """Sends requests with http.client: for blob PUTs, it hands each chunk to `socket.sendall` as it is, where httpx
    (h11) first joins it into a new bytes object. Chunks can therefore be views into reused buffers,
    so ciphertext goes from the cipher's output buffer to the socket with no copy in between.

    Small signed requests go through it too (about 0.25 ms of CPU each against httpx's 0.6). Only for
    plain-HTTP relays reached without a proxy (loopback, LAN); otherwise `usable` is False and the
    caller sends through httpx, which handles TLS settings and proxies; streamed downloads always use
    httpx. Connections are kept alive in a small pool shared by the threads.
    """

    def __init__(self, base_url: str, timeout: float):
        url = httpx.URL(base_url)
        self.host, self.port, self.timeout = url.host, url.port or 80, timeout
        self.prefix = url.raw_path.decode().rstrip("/")
        self.usable = url.scheme == "http" and not _proxied(base_url)
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()

    def send(
        self, method: str, path: str, headers: dict, chunks: Iterable, chunked: bool | None = None
    ) -> httpx.Response:
        """One request; the body is `chunks`, framed as chunks unless a Content-Length is given (or
        `chunked=False`: no body or a Content-Length in `headers`)."""
        conn = self._connection()
        if chunked is None:
            chunked = not any(name.lower() == "content-length" for name in headers)
        try:
            conn.putrequest(method, self.prefix + path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            if chunked:
                conn.putheader("transfer-encoding", "chunked")
            conn.endheaders()
            for chunk in chunks:
                if not chunked:
                    conn.send(chunk)
                elif len(chunk):
                    conn.send(b"%x\r\n" % len(chunk))
                    conn.send(chunk)
                    conn.send(b"\r\n")
            if chunked:
                conn.send(b"0\r\n\r\n")
            reply = conn.getresponse()
            content = reply.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            conn.close()  # e.g. the body's source failed: the request is half sent
            raise
        if reply.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle.append((conn, time.monotonic()))
        return httpx.Response(reply.status, headers=reply.getheaders(), content=content)

    def _connection(self) -> http.client.HTTPConnection:
        # Reuse a kept-alive connection unless the relay may have closed it: idle past its keep-alive
        # time, or readable (a closed socket reads EOF; an idle HTTP/1.1 one never has data).
        while True:
            with self._lock:
                conn, since = self._idle.pop() if self._idle else (None, 0.0)
            if conn is None:
                return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            if conn.sock is not None and time.monotonic() - since < KEEPALIVE_REUSE:
                readable, _, _ = select.select([conn.sock], [], [], 0)
                if not readable:
                    return conn
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


def _proxied(base_url: str) -> bool:
    """Whether httpx would send requests to this URL through a proxy (from the environment)."""
    host = httpx.URL(base_url).host
    proxies = urllib.request.getproxies()
    return bool(proxies.get("http") or proxies.get("all")) and not urllib.request.proxy_bypass(host)


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
