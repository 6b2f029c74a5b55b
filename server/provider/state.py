"""What the provider agent must remember across a crash, in SQLite under its data dir.

Each fact is written before the action that depends on it: the secret r before any frame encrypted
under it is uploaded, a frame's blob id once its upload finished (so a restart does not render it
again), a job's phase before the chain write that moves it on. Pending chain writes live in the same
file, in addon.farm.tx_journal's table.

r is sealed (AES-GCM) under a key derived from the provider's private key, so the state file alone
never lets anyone, the requester included, decrypt the frames before the provider is paid.
"""

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from addon.farm import crypto
from addon.stacks import keys

# Local phases of a job (the chain's status is the truth; these say how far this agent got).
SEEN, DECLINED, STARTED, SUBMITTED, CLAIMED, CLOSED, FAILED = (
    "seen", "declined", "started", "submitted", "claimed", "closed", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY,
    phase TEXT NOT NULL,
    requester TEXT NOT NULL DEFAULT '',
    relay_url TEXT NOT NULL DEFAULT '',
    sealed_secret BLOB,
    result_hash BLOB,
    detail TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS frames (
    job_id INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    result TEXT NOT NULL,
    uploaded_at REAL NOT NULL,
    PRIMARY KEY (job_id, frame)
);
CREATE TABLE IF NOT EXISTS frame_failures (
    job_id INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (job_id, frame)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class JobRecord:
    job_id: int
    phase: str
    requester: str
    relay_url: str
    sealed_secret: bytes | None
    result_hash: bytes | None
    detail: str
    updated_at: float


class AgentState:
    """The agent's SQLite file `data_dir/agent.sqlite`; safe to share between the agent's threads."""

    FILE_NAME = "agent.sqlite"

    def __init__(self, data_dir, private_key: str):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)  # r secrets, scenes and frames: the owner's only
        self.path = self.data_dir / self.FILE_NAME
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        secret = keys.parse_private_key(private_key).secret
        self._sealing = AESGCM(crypto.hkdf(secret, salt=b"render-farm agent state", info=b"reveal secrets"))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args=()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    # ---- jobs -----------------------------------------------------------------------------------

    def job(self, job_id: int) -> JobRecord | None:
        row = self._exec("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return JobRecord(*row) if row else None

    def jobs(self, phases: tuple[str, ...] | None = None) -> list[JobRecord]:
        rows = self._exec("SELECT * FROM jobs ORDER BY job_id").fetchall()
        return [JobRecord(*row) for row in rows if phases is None or row[1] in phases]

    def set_phase(self, job_id: int, phase: str, detail: str = "", **fields) -> None:
        """Create or move a job's record; `fields`: requester, relay_url, result_hash."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO jobs (job_id, phase, updated_at) VALUES (?, ?, ?)",
                             (job_id, phase, time.time()))
            sets, args = ["phase = ?", "detail = ?", "updated_at = ?"], [phase, detail[:2000], time.time()]
            for name in ("requester", "relay_url", "result_hash"):
                if name in fields:
                    sets.append(f"{name} = ?")
                    args.append(fields[name])
            self._db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE job_id = ?", (*args, job_id))

    def reveal_secret(self, job_id: int, new_secret) -> bytes:
        """The job's r: the stored one, or `new_secret()` stored (sealed) before it is returned."""
        with self._lock:
            record = self.job(job_id)
            if record and record.sealed_secret:
                nonce, sealed = record.sealed_secret[:12], record.sealed_secret[12:]
                return self._sealing.decrypt(nonce, sealed, str(job_id).encode())
            secret = new_secret()
            nonce = os.urandom(12)
            blob = nonce + self._sealing.encrypt(nonce, secret, str(job_id).encode())
            self._db.execute("INSERT OR IGNORE INTO jobs (job_id, phase, updated_at) VALUES (?, ?, ?)",
                             (job_id, STARTED, time.time()))
            self._db.execute("UPDATE jobs SET sealed_secret = ? WHERE job_id = ?", (blob, job_id))
            return secret

    # ---- frames ---------------------------------------------------------------------------------

    def frame_uploaded(self, job_id: int, frame: int, result: dict) -> None:
        self._exec("INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?)",
                   (job_id, frame, json.dumps(result, sort_keys=True), time.time()))

    def uploaded_frames(self, job_id: int) -> dict[int, dict]:
        rows = self._exec("SELECT frame, result FROM frames WHERE job_id = ? ORDER BY frame", (job_id,))
        return {frame: json.loads(result) for frame, result in rows.fetchall()}

    def frame_failed(self, job_id: int, frame: int, reason: str) -> int:
        """Count one more failure of this frame; returns how many it has had."""
        with self._lock:
            self._db.execute("INSERT INTO frame_failures VALUES (?, ?, 1, ?) ON CONFLICT (job_id, frame) "
                             "DO UPDATE SET failures = failures + 1, reason = excluded.reason",
                             (job_id, frame, reason[:2000]))
            return self._db.execute("SELECT failures FROM frame_failures WHERE job_id = ? AND frame = ?",
                                    (job_id, frame)).fetchone()[0]

    # ---- small settings -------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._exec("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
