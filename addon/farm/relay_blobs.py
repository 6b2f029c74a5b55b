"""The relay's resumable blob protocol: which blobs are missing, uploads that resume, verified downloads.

Blob id = sha256 of the stored (encrypted) bytes. An upload asks the relay for its persisted offset
and continues from there after a dropped connection, a relay restart or a refused part; parts of
`part_size` map onto S3 multipart parts. Downloads resume with Range and verify the blob id.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import httpx

from . import crypto
from .relay_errors import RelayUnavailable
from .relay_protocol import UploadStatus, from_json
from .relay_transport import SignedTransport, error_from

PART_SIZE = 64 << 20  # bytes per PUT: one S3 multipart part on an S3 backend

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class CorruptDownload(Exception):
    """A blob's bytes did not hash to its id: the relay (or the path to it) altered them. Nothing was kept."""


class PlaintextMismatch(Exception):
    """A blob decrypted, but not to the bytes its sender said (their sha256 differs). Nothing was kept."""


class BlobEndpoints:
    def __init__(self, transport: SignedTransport, part_size: int = PART_SIZE):
        self.transport, self.part_size = transport, part_size
        self._sent_lock = threading.Lock()
        self.bytes_sent = 0  # blob bytes put on the wire (for progress and tests)
        self.upload_interruptions = 0  # uploads that broke off and were resumed

    def missing(self, blob_ids: Iterable[str]) -> list[str]:
        ids, out = list(dict.fromkeys(blob_ids)), []
        for i in range(0, len(ids), 10_000):
            page = {"blob_ids": ids[i : i + 10_000]}
            out += self.transport.request("POST", "/v1/blobs/missing", json_body=page).json()["missing"]
        return out

    def upload_status(self, blob_id: str) -> UploadStatus:
        return from_json(UploadStatus, self.transport.request("GET", f"/v1/uploads/{blob_id}").json())

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
            status = from_json(UploadStatus, self.transport.request(
                "POST", "/v1/uploads", json_body=start | {"size": size}).json())
            if fresh is None:
                fresh = not status.complete
            if status.complete:
                return status.blob_id, sent_total, fresh
            offset = status.offset
            if progress:
                progress(offset, size)
            end = min(size, offset + self.part_size)
            counted = _Counter(_limit(source(offset), end - offset), self._count_sent)
            try:
                response = self.transport.send(
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
                if failures > self.transport.retries:
                    raise RelayUnavailable(f"upload of {name} keeps failing: {exc}") from exc
                self.transport.sleep(failures - 1)
                continue
            sent_total += counted.n
            if response.status_code == 200:
                failures = 0
                result = from_json(UploadStatus, response.json())
                if progress:
                    progress(result.offset, size)
                if result.complete:
                    return result.blob_id, sent_total, fresh
                continue
            error = error_from(response)
            if error.retryable:  # e.g. offset_mismatch: ask the relay's offset again and resume from it
                failures += 1
                if failures > self.transport.retries:
                    raise error
                self.transport.sleep(failures - 1, error.retry_after)
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
            raise CorruptDownload(f"the downloaded bytes do not hash to {blob_id}")
        return n

    def iter_blob(self, blob_id: str, *, start: int = 0) -> Iterator[bytes]:
        """Blob bytes from `start`; reconnects with a Range request where a transfer broke off."""
        position, failures = start, 0
        while True:
            headers = {"range": f"bytes={position}-"} if position else {}
            response = self.transport.request("GET", f"/v1/blobs/{blob_id}", headers=headers, stream=True)
            try:
                for chunk in response.iter_bytes(1 << 20):
                    position += len(chunk)
                    yield chunk
                return
            except httpx.TransportError as exc:
                failures += 1
                if failures > self.transport.retries:
                    raise RelayUnavailable(f"download of {blob_id} keeps failing: {exc}") from exc
                self.transport.sleep(failures - 1)
            finally:
                response.close()

    def download_file(self, blob_id: str, key: bytes, destination: str | os.PathLike, *,
                      plaintext_sha256: str | None = None) -> int:
        """Download, verify and decrypt a blob into `destination` (written atomically). Returns its size.

        With `plaintext_sha256` the decrypted bytes are hashed as they are written and the file is kept
        only if they match (PlaintextMismatch otherwise): AES-GCM proves who encrypted them, not what."""
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(destination.name + ".part")
        h = hashlib.sha256()
        plain_hash = hashlib.sha256() if plaintext_sha256 is not None else None

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
                    if plain_hash is not None:
                        plain_hash.update(plain)
            if h.hexdigest() != blob_id:
                raise CorruptDownload(f"the downloaded bytes do not hash to {blob_id}")
            if plain_hash is not None and plain_hash.hexdigest() != plaintext_sha256:
                raise PlaintextMismatch(f"blob {blob_id} decrypts to bytes whose sha256 is not {plaintext_sha256}")
            os.replace(tmp, destination)
        finally:
            tmp.unlink(missing_ok=True)
        return n


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
