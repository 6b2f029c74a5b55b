"""Seen request nonces, checked on the event loop itself.

Every signed request records its nonce, so this is the hottest write of the relay. It has its own
SQLite file: its writes never wait for the metadata database's write lock (an upload being published,
a GC pass), and an INSERT in WAL mode without fsync costs microseconds, less than handing it to a
worker thread. Checkpoints, which do fsync, run off the loop (`checkpoint`, called periodically from a
worker thread on a connection of its own).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (
  address TEXT NOT NULL, nonce TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (address, nonce));
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires_at);
"""
PURGE_BATCH = 5000  # rows deleted per statement, so a purge never holds the loop for long


class NonceStore:
    def __init__(self, path: Path):
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # see checkpoint()
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()  # uncontended on the loop; GC purges from a thread

    def use(self, address: str, nonce: str, expires_at: float) -> bool:
        """True the first time (address, nonce) is seen; False for a replay."""
        try:
            with self._lock:
                self._db.execute("INSERT INTO nonces VALUES (?, ?, ?)", (address, nonce, expires_at))
            return True
        except sqlite3.IntegrityError:
            return False

    def purge(self, now: float) -> int:
        removed = 0
        while True:
            with self._lock:
                n = self._db.execute(
                    "DELETE FROM nonces WHERE rowid IN (SELECT rowid FROM nonces WHERE expires_at < ? LIMIT ?)",
                    (now, PURGE_BATCH),
                ).rowcount
            removed += n
            if n < PURGE_BATCH:
                return removed

    def checkpoint(self) -> None:
        """Fold the WAL back into the database (blocking I/O: call it from a worker thread)."""
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()
