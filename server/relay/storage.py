"""Storage interfaces: where blob bytes live and where everything else (metadata) lives.

The filesystem + SQLite implementations are the default; an S3-compatible blob store and a
PostgreSQL metadata store can implement the same protocols for several stateless relay instances.
An upload session maps onto an S3 multipart upload: every PUT of a byte range is one part, and the
offset is the number of bytes in completed parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class UploadKey:
    """Upload sessions are per (uploader, blob): one uploader's bad bytes cannot spoil another's upload."""

    owner: str
    blob_id: str


class UploadSession(Protocol):
    offset: int

    def write(self, chunks: list[bytes]) -> None:
        """Append these bytes (as received, not joined) and feed them to the running hash."""

    def rollback(self, offset: int) -> None:
        """Drop bytes after `offset` (a refused request must leave no trace)."""

    def persist(self) -> None:
        """Make written bytes durable (fsync); the offset reported to clients is what survived."""

    def digest_hex(self) -> str: ...


class BlobStore(Protocol):
    def blob_path(self, blob_id: str) -> Path | None:
        """Local file of a complete blob, for zero-copy Range responses; None if absent."""

    def blob_size(self, blob_id: str) -> int | None: ...

    def open_upload(self, key: UploadKey) -> UploadSession:
        """The session, for one request at a time; it may hold resources (descriptors) until released."""

    def release_upload(self, key: UploadKey, session: UploadSession) -> None:
        """The request using the session is done with it; an idle session holds no descriptor."""

    def upload_offset(self, key: UploadKey) -> int: ...

    def publish(self, key: UploadKey, session: UploadSession, blob_id: str | None = None) -> None:
        """Make a verified upload visible atomically under `blob_id` (default: the session's name, which
        is then its blob id) and drop the session."""

    def discard_upload(self, key: UploadKey) -> None: ...

    def delete_blob(self, blob_id: str) -> None: ...

    def iter_blob_ids(self) -> Iterator[str]: ...

    def iter_upload_keys(self) -> Iterator[UploadKey]: ...
