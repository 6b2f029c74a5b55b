"""Metadata on SQLite: blobs, upload sessions, job documents, blob references, progress.

Writes go through one connection behind a lock (SQLite serializes writers anyway). Plain reads use a
connection per thread and no lock: in WAL mode they never wait for a writer, so the event loop can
answer the hot lookups itself (which blobs are missing, is this blob stored) without a thread hop.
A PostgreSQL store for several relay instances would implement the same methods.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
-- created_at: when the blob was last uploaded or reported present to a client; GC's grace counts from it.
CREATE TABLE IF NOT EXISTS blobs (
  blob_id TEXT PRIMARY KEY, size INTEGER NOT NULL, owner TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS blobs_owner ON blobs(owner);
CREATE TABLE IF NOT EXISTS uploads (
  owner TEXT NOT NULL, blob_id TEXT NOT NULL, size INTEGER NOT NULL,
  created_at REAL NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (owner, blob_id));
-- Sessions named by a client token instead of a blob id; blob_id is what the bytes hashed to.
CREATE TABLE IF NOT EXISTS upload_tokens (
  owner TEXT NOT NULL, token TEXT NOT NULL, blob_id TEXT, PRIMARY KEY (owner, token));
DROP TABLE IF EXISTS nonces;  -- moved to nonces.sqlite3 (nonces.py)
CREATE TABLE IF NOT EXISTS jobs (job_id INTEGER PRIMARY KEY, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
  job_id INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
  sha256 TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (job_id, kind, name));
CREATE TABLE IF NOT EXISTS refs (
  job_id INTEGER NOT NULL, kind TEXT NOT NULL, blob_id TEXT NOT NULL, PRIMARY KEY (job_id, kind, blob_id));
CREATE INDEX IF NOT EXISTS refs_blob ON refs(blob_id);
CREATE TABLE IF NOT EXISTS progress (
  job_id INTEGER NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (job_id, seq));
"""


@dataclass(frozen=True)
class Document:
    data: bytes
    sha256: str
    updated_at: float
    blob_ids: list[str]


class SqliteMetadata:
    def __init__(self, path: Path):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._path = path
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []

    def _reader(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA query_only=1")
            with self._lock:
                self._readers.append(db)
        return db

    def _one(self, sql, args=()):
        return self._reader().execute(sql, args).fetchone()

    def _all(self, sql, args=()):
        return self._reader().execute(sql, args).fetchall()

    def _write(self, sql, args=()):
        with self._lock:
            return self._db.execute(sql, args)

    def close(self):
        with self._lock:
            for db in self._readers:
                db.close()
            self._db.close()

    # ---- blobs and uploads

    def blob_size(self, blob_id: str) -> int | None:
        row = self._one("SELECT size FROM blobs WHERE blob_id = ?", (blob_id,))
        return row[0] if row else None

    def add_blob(self, blob_id: str, size: int, owner: str, now: float, session: str | None = None) -> None:
        """Record a published blob and close the session that produced it (named `session`, by default
        the blob id), in one transaction; a token session remembers which blob it became."""
        session = session or blob_id
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            # A re-upload restarts the grace period: its uploader is about to reference it.
            self._db.execute(
                "INSERT INTO blobs VALUES (?, ?, ?, ?) ON CONFLICT(blob_id) DO UPDATE SET created_at = ?",
                (blob_id, size, owner, now, now),
            )
            self._db.execute("DELETE FROM uploads WHERE owner = ? AND blob_id = ?", (owner, session))
            self._db.execute(
                "UPDATE upload_tokens SET blob_id = ? WHERE owner = ? AND token = ?", (blob_id, owner, session)
            )

    def sessions_of_blob(self, blob_id: str) -> list[str]:
        """Owners with an open session named by this blob id (left over once someone published it)."""
        return [r[0] for r in self._all("SELECT owner FROM uploads WHERE blob_id = ?", (blob_id,))]

    def missing_blobs(self, blob_ids: list[str], now: float, fresh_after: float) -> list[str]:
        """Which of these blobs are not stored. Present ones last touched before `fresh_after` are touched
        (their GC grace restarts) in the same transaction as the answer, so GC cannot take a blob just
        reported present; the others were touched so recently that GC cannot take them for a long while."""
        present: dict[str, float] = {}
        for part in _chunks(blob_ids):
            marks = ",".join("?" * len(part))
            present.update(self._all(f"SELECT blob_id, created_at FROM blobs WHERE blob_id IN ({marks})", part))
        stale = [b for b, at in present.items() if at < fresh_after]
        if stale:
            with self._lock, self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for part in _chunks(stale):
                    marks = ",".join("?" * len(part))
                    touched = self._db.execute(
                        f"UPDATE blobs SET created_at = ? WHERE blob_id IN ({marks}) RETURNING blob_id", [now, *part]
                    ).fetchall()
                    for gone in set(part) - {r[0] for r in touched}:  # collected just before this transaction
                        del present[gone]
        return [b for b in blob_ids if b not in present]

    def delete_blob_row(self, blob_id: str) -> None:
        self._write("DELETE FROM blobs WHERE blob_id = ?", (blob_id,))

    def all_blob_ids(self) -> set[str]:
        return {r[0] for r in self._all("SELECT blob_id FROM blobs")}

    def admit_upload(self, owner: str, name: str, size: int, by_token: bool, now: float, limits) -> dict | None:
        """Open (or keep) the session `name` of `owner`, checking every limit in the same transaction as
        the insert, so concurrent starts cannot together pass a limit each passes alone. Returns None, or
        {"refused": reason, ...figures} with reason one of size_conflict, too_many_uploads, relay_busy,
        quota_exceeded, relay_full. `limits`: the relay's config."""
        with self._lock, self._db:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT size FROM uploads WHERE owner = ? AND blob_id = ?", (owner, name)).fetchone()
            if row is not None and row[0] != size:
                return {"refused": "size_conflict", "size": row[0]}
            if row is None:
                mine = db.execute("SELECT COUNT(*) FROM uploads WHERE owner = ?", (owner,)).fetchone()[0]
                if mine >= limits.max_uploads_per_address:
                    return {"refused": "too_many_uploads", "open": mine}
                if db.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] >= limits.max_uploads:
                    return {"refused": "relay_busy"}
                used = db.execute(
                    "SELECT (SELECT COALESCE(SUM(size), 0) FROM blobs WHERE owner = ?)"
                    " + (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE owner = ?)",
                    (owner, owner),
                ).fetchone()[0]
                if used + size > limits.quota_bytes:
                    return {"refused": "quota_exceeded", "used": used, "quota": limits.quota_bytes}
                if limits.total_bytes:  # a scan of the blob table: only when a ceiling is set
                    total = db.execute(
                        "SELECT (SELECT COALESCE(SUM(size), 0) FROM blobs)"
                        " + (SELECT COALESCE(SUM(size), 0) FROM uploads)"
                    ).fetchone()[0]
                    if total + size > limits.total_bytes:
                        return {"refused": "relay_full"}
                if size and not _disk_has_room(self._path.parent, size + limits.disk_reserve_bytes):
                    return {"refused": "relay_full"}
            db.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?) ON CONFLICT(owner, blob_id) DO UPDATE SET updated_at = ?",
                (owner, name, size, now, now, now),
            )
            if by_token:
                db.execute("INSERT OR REPLACE INTO upload_tokens VALUES (?, ?, NULL)", (owner, name))
            return None

    def totals(self) -> tuple[int, int, int]:
        row = self._one("SELECT COUNT(*), COALESCE(SUM(size), 0), (SELECT COUNT(*) FROM uploads) FROM blobs")
        return row[0], row[1], row[2]

    def get_upload(self, owner: str, blob_id: str) -> int | None:
        row = self._one("SELECT size FROM uploads WHERE owner = ? AND blob_id = ?", (owner, blob_id))
        return row[0] if row else None

    def put_upload(self, owner: str, blob_id: str, size: int, now: float) -> None:
        self._write(
            "INSERT INTO uploads VALUES (?, ?, ?, ?, ?) ON CONFLICT(owner, blob_id) DO UPDATE SET updated_at = ?",
            (owner, blob_id, size, now, now, now),
        )

    def delete_upload(self, owner: str, blob_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM uploads WHERE owner = ? AND blob_id = ?", (owner, blob_id))
            self._db.execute(
                "DELETE FROM upload_tokens WHERE owner = ? AND token = ? AND blob_id IS NULL", (owner, blob_id)
            )

    def token_state(self, owner: str, token: str) -> tuple[bool, str | None]:
        """(is `token` a token session of `owner`, the blob id it produced if complete)."""
        row = self._one("SELECT blob_id FROM upload_tokens WHERE owner = ? AND token = ?", (owner, token))
        return (row is not None, row[0] if row else None)

    def purge_tokens(self) -> int:
        """Forget tokens whose session is gone unfinished or whose blob was collected."""
        return self._write(
            "DELETE FROM upload_tokens WHERE (blob_id IS NULL AND NOT EXISTS (SELECT 1 FROM uploads u"
            " WHERE u.owner = upload_tokens.owner AND u.blob_id = upload_tokens.token))"
            " OR (blob_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.blob_id = upload_tokens.blob_id))"
        ).rowcount

    def all_uploads(self) -> list[tuple[str, str, float]]:
        return self._all("SELECT owner, blob_id, updated_at FROM uploads")

    # ---- job documents

    def put_document(
        self,
        job_id: int,
        kind: str,
        name: str,
        data: bytes,
        sha256: str,
        blob_ids: list[str] | None,
        now: float,
        limits,
    ) -> dict | None:
        """Store a document and (when given) replace its blob references. Refused (nothing stored) with
        {"refused": "missing_blobs", "missing": [...]} when referenced blobs do not exist, so a manifest
        never points at bytes the relay lacks, or {"refused": "job_full", ...} past the per-job limits
        (`limits`: the relay's config). The limits are checked in the same transaction as the write."""
        with self._lock, self._db:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            missing = []
            for blob_id in blob_ids or []:
                if not db.execute("SELECT 1 FROM blobs WHERE blob_id = ?", (blob_id,)).fetchone():
                    missing.append(blob_id)
            if missing:
                return {"refused": "missing_blobs", "missing": missing}
            others = db.execute(
                "SELECT COUNT(*) FROM documents WHERE job_id = ? AND kind = ? AND name != ?", (job_id, kind, name)
            ).fetchone()[0]
            job_bytes = db.execute(  # every document of the job but the one this write replaces
                "SELECT COALESCE(SUM(length(data)), 0) FROM documents WHERE job_id = ? AND NOT (kind = ? AND name = ?)",
                (job_id, kind, name),
            ).fetchone()[0]
            if kind == "preview" and others >= limits.max_previews_per_job:
                return {"refused": "job_full", "previews": others}
            if job_bytes + len(data) > limits.max_job_bytes:
                return {"refused": "job_full", "bytes": job_bytes}
            self._db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, kind, name, data, sha256, now),
            )
            self._db.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?)", (job_id, now))
            if blob_ids is not None:
                self._db.execute("DELETE FROM refs WHERE job_id = ? AND kind = ?", (job_id, kind))
                self._db.executemany(
                    "INSERT OR IGNORE INTO refs VALUES (?, ?, ?)", [(job_id, kind, b) for b in blob_ids]
                )
            return None

    def get_document(self, job_id: int, kind: str, name: str) -> Document | None:
        row = self._one(
            "SELECT data, sha256, updated_at FROM documents WHERE job_id = ? AND kind = ? AND name = ?",
            (job_id, kind, name),
        )
        if not row:
            return None
        refs = [
            r[0]
            for r in self._all(
                "SELECT blob_id FROM refs WHERE job_id = ? AND kind = ? ORDER BY blob_id", (job_id, kind)
            )
        ]
        return Document(bytes(row[0]), row[1], row[2], refs)

    def list_documents(self, job_id: int, kind: str) -> list[tuple[str, int, str, float]]:
        return self._all(
            "SELECT name, length(data), sha256, updated_at FROM documents WHERE job_id = ? AND kind = ? ORDER BY name",
            (job_id, kind),
        )

    def delete_job(self, job_id: int) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for table in ("documents", "refs", "progress", "jobs"):
                self._db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))

    def stale_jobs(self, before: float) -> list[int]:
        return [r[0] for r in self._all("SELECT job_id FROM jobs WHERE updated_at < ?", (before,))]

    # ---- progress

    def add_progress(self, job_id: int, body: str, now: float) -> int:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM progress WHERE job_id = ?", (job_id,)).fetchone()
            seq = row[0] + 1
            self._db.execute("INSERT INTO progress VALUES (?, ?, ?, ?)", (job_id, seq, now, body))
            self._db.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?)", (job_id, now))
            # Keep the newest heartbeats only: followers need the trend, not the whole history.
            self._db.execute("DELETE FROM progress WHERE job_id = ? AND seq <= ?", (job_id, seq - 1000))
            return seq

    def progress_after(self, job_id: int, after: int, limit: int = 500) -> list[tuple[int, float, str]]:
        return self._all(
            "SELECT seq, at, body FROM progress WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (job_id, after, limit),
        )

    # ---- garbage collection

    def collectable_blobs(self, created_before: float, limit: int = 1000) -> list[str]:
        return [
            r[0]
            for r in self._all(
                "SELECT blob_id FROM blobs b WHERE created_at < ?"
                " AND NOT EXISTS (SELECT 1 FROM refs r WHERE r.blob_id = b.blob_id) LIMIT ?",
                (created_before, limit),
            )
        ]

    def delete_blob_if_unreferenced(self, blob_id: str, created_before: float) -> bool:
        """Delete the row if still collectable: unreferenced and not touched since the candidate query."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._db.execute("SELECT 1 FROM refs WHERE blob_id = ?", (blob_id,)).fetchone():
                return False
            return (
                self._db.execute(
                    "DELETE FROM blobs WHERE blob_id = ? AND created_at < ?", (blob_id, created_before)
                ).rowcount
                > 0
            )


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _disk_has_room(directory: Path, needed: int) -> bool:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize >= needed
