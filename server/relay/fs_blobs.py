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
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from .direct_io import BLOCK, aligned_buffer, open_direct, refuses_direct, write_direct
from .storage import UploadKey
from .writeback import start_writeback

HASH_READ_CHUNK = 1 << 20
# Bytes received from a socket before hashing and writing them: small enough to stay in the core's
# cache between recv, sha256 and write; large enough that per-call overhead does not matter.
RECV_BUFFER = 1 << 20
MAX_REMEMBERED_SESSIONS = 4096  # idle sessions whose running hash stays in memory (about 0.3 KiB each)


class FileUploadSession:
    """Appends to the session file while hashing, so verification costs no second pass.

    Its descriptors are opened on first use by a request and closed by `release()` when that request
    ends: an idle session holds memory for its running hash, never a file descriptor.
    """

    def __init__(self, path: Path):
        self.path = path
        self.__file = None
        try:
            self.offset = path.stat().st_size
        except FileNotFoundError:
            self.offset = 0
        self._hasher = self._rehash(self.offset)
        self._direct: int | None = None  # O_DIRECT descriptor, opened on first use; -1: not available

    @property
    def _file(self):
        if self.__file is None:
            self.__file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed by release()
        return self.__file

    def release(self) -> None:
        """Close the descriptors (the next write opens them again)."""
        if self._direct is not None and self._direct >= 0:
            os.close(self._direct)
        self._direct = None
        if self.__file is not None:
            self.__file.close()
            self.__file = None

    def _rehash(self, upto: int):
        # After a restart (or a rollback) the running hash is rebuilt from the persisted prefix.
        h = hashlib.sha256()
        if upto == 0:
            return h
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
        stops, keeping every byte received so far (the client resumes after them). Bytes are written
        with O_DIRECT where possible (see direct_io.py), so `view[0]` sits on a block boundary `base`.
        """
        body = _SocketBody(sock, prefix, remaining, idle_timeout)
        block = BLOCK if self._direct_fd() is not None else 1
        with aligned_buffer(RECV_BUFFER + BLOCK) as view:
            base = self.offset - self.offset % block
            filled = self.offset - base
            if filled:  # the file's partial last block goes out again with the new bytes behind it
                with open(self.path, "rb", buffering=0) as f:
                    f.seek(base)
                    f.readinto(view[:filled])
            while not body.done:
                filled += body.read_into(view[filled:])
                cut = filled if body.done else filled - filled % block
                self._persist(view, base, cut)
                if not body.done and cut:  # carry the partial block over to the front
                    view[: filled - cut] = view[cut:filled]
                    base, filled = base + cut, filled - cut
        return body.complete

    def _direct_fd(self) -> int | None:
        if self._direct is None:
            self._file  # noqa: B018 - creates the file, which open_direct only opens
            fd = open_direct(self.path)
            self._direct = -1 if fd is None else fd
        return self._direct if self._direct >= 0 else None

    def _persist(self, view: memoryview, base: int, upto: int) -> None:
        """Write view[:upto] (file bytes from `base`, of which the first offset-base are already stored),
        whole blocks directly, the rest buffered; hash only what is new."""
        new = self.offset - base
        direct = self._direct_fd()
        aligned = upto - upto % BLOCK if direct is not None else 0
        if aligned > new:
            try:
                written = write_direct(direct, view[:aligned], base)
            except OSError as exc:
                if not refuses_direct(exc):
                    raise
                os.close(direct)
                self._direct, written = -1, 0  # buffered from now on
            if written > new:
                self._hasher.update(view[new:written])
                self.offset, new = base + written, written
        if upto > new:
            self._append(view[new:upto])

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
        self.release()


class _SocketBody:
    """The rest of a request body: bytes the HTTP parser already took, then the socket's next bytes."""

    def __init__(self, sock: socket.socket, prefix: bytes, remaining: int, idle_timeout: float):
        self.sock, self.prefix, self.remaining = sock, memoryview(prefix), remaining
        self.done = self.complete = remaining == 0 and not prefix
        sock.settimeout(idle_timeout)

    def read_into(self, view: memoryview) -> int:
        """Fill `view` as far as the body goes; sets `done` at its end or when the client is gone."""
        filled = 0
        if self.prefix:
            filled = min(len(self.prefix), len(view))
            view[:filled] = self.prefix[:filled]
            self.prefix = self.prefix[filled:]
        try:
            while filled < len(view) and self.remaining:
                n = self.sock.recv_into(view[filled : filled + min(len(view) - filled, self.remaining)])
                if n == 0:
                    self.done = True
                    return filled
                filled += n
                self.remaining -= n
        except OSError:  # reset, timed out, closed at shutdown
            self.done = True
            return filled
        if not self.remaining and not self.prefix:
            self.done = self.complete = True
        return filled


class FileBlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs"
        self.uploads_dir = self.root / "uploads"
        for d in (self.blobs_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)
        # Sessions seen lately, for their running hashes (no descriptors: see FileUploadSession); one
        # pushed out rebuilds its hash from its file when it is used again.
        self._sessions: OrderedDict[UploadKey, FileUploadSession] = OrderedDict()
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
        """The session for one request's use; give it back with release_upload (callers serialize per key)."""
        with self._lock:
            session = self._sessions.get(key)
            if session is not None:
                self._sessions.move_to_end(key)
                return session
        session = FileUploadSession(self._upload_file(key))  # may rehash a prefix: outside the lock
        with self._lock:
            session = self._sessions.setdefault(key, session)
            while len(self._sessions) > MAX_REMEMBERED_SESSIONS:
                self._sessions.popitem(last=False)  # its request (if any) still releases it
            return session

    def release_upload(self, key: UploadKey, session: FileUploadSession) -> None:
        session.release()

    def _forget(self, key: UploadKey) -> None:
        with self._lock:
            session = self._sessions.pop(key, None)
        if session:
            session.close()

    def publish(self, key: UploadKey, session: FileUploadSession, blob_id: str | None = None) -> None:
        session.persist()
        final = self._blob_file(blob_id or key.blob_id)
        if not final.parent.is_dir():
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
