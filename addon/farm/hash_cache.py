"""Local cache of file hashes keyed by (path, size, mtime), so an unchanged scene is not re-hashed.

Also remembers, per requester key, which blob id (sha256 of the ciphertext) a plaintext became, so a
second submission needs neither hashing nor encrypting before asking the relay what is missing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path

from .hashing import sha256_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
  plaintext_sha256 BLOB NOT NULL, key_id BLOB NOT NULL, blob_id TEXT NOT NULL, size INTEGER NOT NULL,
  PRIMARY KEY (plaintext_sha256, key_id));
"""


def key_id(secret: bytes) -> bytes:
    """Identifies a requester secret in the cache without storing the secret."""
    return hashlib.sha256(b"render-farm/hash-cache-key-id|" + secret).digest()[:16]


class HashCache:
    def __init__(self, path: str | os.PathLike | None = None):
        """`path=None` keeps the cache in memory (nothing survives the process)."""
        target = ":memory:" if path is None else str(path)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.hashed_bytes = 0  # bytes actually read to hash (a cache miss); lets callers and tests see hits

    def plaintext_sha256(self, path: str | os.PathLike) -> bytes:
        real = os.path.realpath(path)
        st = os.stat(real)
        with self._lock:
            row = self._db.execute(
                "SELECT size, mtime_ns, sha256 FROM files WHERE path = ?", (real,)
            ).fetchone()
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return bytes(row[2])
        digest = sha256_file(real)
        after = os.stat(real)
        with self._lock:
            self.hashed_bytes += st.st_size
            # Cache only if the file did not change while it was read.
            if (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
                self._db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                    (real, st.st_size, st.st_mtime_ns, digest),
                )
        return digest

    def remember(self, items) -> None:
        """Record hashes computed elsewhere: `items` yields (path, sha256 digest, os.stat_result taken
        before the bytes were read); a file whose size or mtime moved since that stat is skipped."""
        rows = []
        for path, digest, before in items:
            real = os.path.realpath(path)
            try:
                now = os.stat(real)
            except OSError:
                continue
            if (now.st_size, now.st_mtime_ns) == (before.st_size, before.st_mtime_ns):
                rows.append((real, now.st_size, now.st_mtime_ns, digest))
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def blob_for(self, plaintext_sha256: bytes, secret_id: bytes) -> tuple[str, int] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT blob_id, size FROM blobs WHERE plaintext_sha256 = ? AND key_id = ?",
                (plaintext_sha256, secret_id),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def remember_blob(self, plaintext_sha256: bytes, secret_id: bytes, blob_id: str, size: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?)",
                (plaintext_sha256, secret_id, blob_id, size),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
