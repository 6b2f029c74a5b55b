"""Blob store on a local filesystem: complete blobs under blobs/ab/<id>, sessions under uploads/.

Visibility is atomic: bytes go to an upload file, which is fsynced, verified and then renamed into
blobs/ (and the directory fsynced). So a blob path either does not exist or holds the whole verified
blob, whatever instant the process dies at.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from .storage import UploadKey
from .writeback import start_writeback

HASH_READ_CHUNK = 1 << 20
# Bytes received from a socket before hashing and writing them: small enough to stay in the core's
# cache between recv, sha256 and write; large enough that per-call overhead does not matter.
RECV_BUFFER = 1 << 20


class FileUploadSession:
    """Appends to the session file while hashing, so verification costs no second pass."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the session
        self.offset = self._file.seek(0, os.SEEK_END)
        self._hasher = self._rehash(self.offset)

    def _rehash(self, upto: int):
        # After a restart (or a rollback) the running hash is rebuilt from the persisted prefix.
        h = hashlib.sha256()
        with open(self.path, "rb", buffering=0) as f:
            left = upto
            while left > 0:
                chunk = f.read(min(HASH_READ_CHUNK, left))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
        return h

    def write(self, chunks: list[bytes]) -> None:
        # Called off the event loop with the chunks as received: one writev and no joined copy; os.writev
        # and sha256 of large buffers release the GIL, so the loop keeps receiving meanwhile.
        fd, start = self._file.fileno(), self.offset
        total = sum(len(c) for c in chunks)
        done = os.writev(fd, chunks)
        if done < total:  # short write (rare): finish the rest piece by piece
            view = memoryview(b"".join(chunks))[done:]
            while view:
                view = view[os.write(fd, view) :]
        for chunk in chunks:
            self._hasher.update(chunk)
        self.offset += total
        start_writeback(fd, start, total)

    def receive(self, sock: socket.socket, prefix: bytes, remaining: int, idle_timeout: float) -> bool:
        """Append `prefix`, then the next `remaining` bytes of `sock` (blocking, in a worker thread).

        Returns whether all of them arrived; on a disconnect or `idle_timeout` seconds of silence it
        stops, keeping every byte received so far (the client resumes after them).
        """
        if prefix:
            self._append(prefix)
        sock.settimeout(idle_timeout)
        buf = bytearray(min(RECV_BUFFER, remaining) or 1)
        view = memoryview(buf)
        while remaining:
            want, filled, open_ = min(len(buf), remaining), 0, True
            try:
                while filled < want:
                    n = sock.recv_into(view[filled:want])
                    if n == 0:
                        open_ = False
                        break
                    filled += n
            except OSError:  # reset, timed out, closed at shutdown
                open_ = False
            if filled:
                self._append(view[:filled])
                remaining -= filled
            if not open_:
                return False
        return True

    def _append(self, data) -> None:
        fd, start = self._file.fileno(), self.offset
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        self._hasher.update(data)
        self.offset += len(data)
        start_writeback(fd, start, len(data))

    def rollback(self, offset: int) -> None:
        if offset < self.offset:
            self._file.truncate(offset)
            self._file.seek(0, os.SEEK_END)
            self.offset = offset
            self._hasher = self._rehash(offset)

    def persist(self) -> None:
        os.fsync(self._file.fileno())

    def digest_hex(self) -> str:
        return self._hasher.hexdigest()

    def close(self) -> None:
        self._file.close()


class FileBlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs"
        self.uploads_dir = self.root / "uploads"
        for d in (self.blobs_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._sessions: dict[UploadKey, FileUploadSession] = {}
        self._lock = threading.Lock()

    # ---- blobs

    def _blob_file(self, blob_id: str) -> Path:
        return self.blobs_dir / blob_id[:2] / blob_id

    def blob_path(self, blob_id: str) -> Path | None:
        path = self._blob_file(blob_id)
        return path if path.is_file() else None

    def blob_size(self, blob_id: str) -> int | None:
        try:
            return self._blob_file(blob_id).stat().st_size
        except FileNotFoundError:
            return None

    def delete_blob(self, blob_id: str) -> None:
        self._blob_file(blob_id).unlink(missing_ok=True)

    def iter_blob_ids(self) -> Iterator[str]:
        for sub in self.blobs_dir.iterdir():
            if sub.is_dir():
                for f in sub.iterdir():
                    yield f.name

    # ---- uploads

    def _upload_file(self, key: UploadKey) -> Path:
        return self.uploads_dir / f"{key.owner}.{key.blob_id}.part"

    def upload_offset(self, key: UploadKey) -> int:
        with self._lock:
            session = self._sessions.get(key)
            if session:
                return session.offset
        try:
            return self._upload_file(key).stat().st_size
        except FileNotFoundError:
            return 0

    def open_upload(self, key: UploadKey) -> FileUploadSession:
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = FileUploadSession(self._upload_file(key))
            return session

    def _forget(self, key: UploadKey) -> None:
        with self._lock:
            session = self._sessions.pop(key, None)
        if session:
            session.close()

    def publish(self, key: UploadKey, session: FileUploadSession, blob_id: str | None = None) -> None:
        session.persist()
        final = self._blob_file(blob_id or key.blob_id)
        final.parent.mkdir(exist_ok=True)
        self._forget(key)
        os.replace(session.path, final)
        _fsync_dir(final.parent)

    def discard_upload(self, key: UploadKey) -> None:
        self._forget(key)
        self._upload_file(key).unlink(missing_ok=True)

    def iter_upload_keys(self) -> Iterator[UploadKey]:
        for f in self.uploads_dir.glob("*.part"):
            owner, _, blob_id = f.name[: -len(".part")].rpartition(".")
            yield UploadKey(owner, blob_id)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
