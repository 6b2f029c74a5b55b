"""A journal of chain writes in SQLite, so a restart neither forgets nor double-sends a transaction.

Every transaction is recorded (txid, sender, nonce, function, raw bytes) BEFORE it is broadcast and
stays `pending` until it is seen mined (`success`), mined but aborted (`failed`), refused by the node
(`rejected`) or overtaken by another transaction with its nonce (`dropped`).

Nonces: the next one for a sender is max(the node's next nonce, the highest nonce this journal holds
(pending or mined) + 1), chosen
and recorded under one SQLite write lock, so quick submissions from several threads or processes with
one address never collide.

Idempotency: a write carries a `key` (by default its function and arguments). While a transaction
with that key is pending, asking for it again returns the same transaction instead of building a new
one, so "retry after the node was unreachable" or "carry on after a restart" cannot pay twice.

Recovery (`recover`): every pending transaction is looked up on the node; mined ones are settled, ones
the node has never seen are re-broadcast byte for byte (same txid), and ones whose nonce the node has
already used for something else are marked dropped.

bpy-free: shared by the provider agent and the Blender add-on.
"""

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..stacks.api import FAILED_STATUSES, StacksClient
from ..stacks.errors import NetworkError, TransactionRejected
from ..stacks.transactions import Transaction

PENDING, SUCCESS, FAILED, REJECTED, DROPPED = "pending", "success", "failed", "rejected", "dropped"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS txs (
    txid TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    function TEXT NOT NULL,
    key TEXT NOT NULL,
    raw_hex TEXT NOT NULL,
    status TEXT NOT NULL,
    broadcasts INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_pending ON txs (sender, status, nonce);
CREATE INDEX IF NOT EXISTS txs_key ON txs (key, status);
"""


@dataclass(frozen=True)
class JournalEntry:
    txid: str
    sender: str
    nonce: int
    function: str
    key: str
    raw_hex: str
    status: str
    broadcasts: int
    detail: str
    created_at: float
    updated_at: float

    @property
    def raw(self) -> bytes:
        return bytes.fromhex(self.raw_hex)


class TxJournal:
    """The journal in the SQLite file `path` (created if missing). Safe to share between threads."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._senders: dict[str, threading.Lock] = {}  # per sender: prepare + broadcast in nonce order
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a recorded transaction must survive a power cut
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- recording ------------------------------------------------------------------------------

    def prepare(self, client: StacksClient, sender: str, function: str, build: Callable[[int], Transaction],
                key: str | None = None) -> tuple[JournalEntry, bool]:
        """Record the transaction `build(nonce)` for `sender` under the next free nonce, or return the
        pending one with the same key. Returns (entry, new); nothing is broadcast yet."""
        key = key or function
        node_nonce = client.get_nonce(sender)  # network first, outside the write lock
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                same = self._db.execute("SELECT * FROM txs WHERE key = ? AND sender = ? AND status = ? "
                                        "ORDER BY nonce LIMIT 1", (key, sender, PENDING)).fetchone()
                if same:
                    self._db.execute("COMMIT")
                    return JournalEntry(*same), False
                # Pending, mined and aborted transactions all hold their nonce (the node's answer may
                # predate one that was just mined); refused and dropped ones never took theirs.
                highest = self._db.execute("SELECT MAX(nonce) FROM txs WHERE sender = ? AND status IN (?,?,?)",
                                           (sender, PENDING, SUCCESS, FAILED)).fetchone()[0]
                nonce = max(node_nonce, -1 if highest is None else highest + 1)
                tx = build(nonce)
                now = time.time()
                entry = JournalEntry(tx.txid(), sender, nonce, function, key, tx.serialize().hex(), PENDING, 0,
                                     "", now, now)
                self._db.execute("INSERT INTO txs VALUES (?,?,?,?,?,?,?,?,?,?,?)", _row(entry))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return entry, True

    def broadcast(self, client: StacksClient, entry: JournalEntry) -> str:
        """Send the recorded bytes. A refusal marks the entry rejected (and raises); an unreachable node
        leaves it pending for the next try or `recover` (and raises NetworkError)."""
        try:
            txid = client.broadcast(entry.raw)
        except TransactionRejected as refused:
            if _already_known(refused):
                return entry.txid
            self.settle(entry.txid, REJECTED, str(refused))
            raise
        with self._lock:
            self._db.execute("UPDATE txs SET broadcasts = broadcasts + 1, updated_at = ? WHERE txid = ?",
                             (time.time(), entry.txid))
        return txid

    def send(self, client: StacksClient, sender: str, function: str, build: Callable[[int], Transaction],
             key: str | None = None) -> str:
        """prepare + broadcast: the txid of the (new or still pending) transaction, now on the node.

        One sender's sends in this process take turns, so its nonces reach the node in order: a node may
        refuse a nonce past the next one it expects (the local chain does) when a later one wins the race."""
        with self._lock:
            turn = self._senders.setdefault(sender, threading.Lock())
        with turn:
            return self._send(client, sender, function, build, key)

    def _send(self, client: StacksClient, sender: str, function: str, build: Callable[[int], Transaction],
              key: str | None) -> str:
        while True:
            entry, new = self.prepare(client, sender, function, build, key)
            if new:
                return self.broadcast(client, entry)
            seen = self._check(client, entry)
            if seen in ("pending", "rebroadcast") or seen in (SUCCESS, FAILED):
                return entry.txid  # the caller awaits it like a fresh one
            if seen == REJECTED:
                raise TransactionRejected(f"the node refused transaction 0x{entry.txid} again", 400,
                                          reason="Rejected", txid=entry.txid)
            # dropped: its nonce went to another transaction; build a new one

    def settle(self, txid: str, status: str, detail: str = "") -> None:
        with self._lock:
            self._db.execute("UPDATE txs SET status = ?, detail = ?, updated_at = ? WHERE txid = ?",
                             (status, detail[:2000], time.time(), txid.removeprefix("0x")))

    def settle_from_node(self, txid: str, node_status: str, detail: str = "") -> str:
        """Map the node's tx_status to ours and record it; returns ours."""
        status = SUCCESS if node_status == "success" else FAILED if node_status in FAILED_STATUSES \
            else DROPPED
        self.settle(txid, status, detail or node_status)
        return status

    # ---- reading --------------------------------------------------------------------------------

    def get(self, txid: str) -> JournalEntry | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM txs WHERE txid = ?", (txid.removeprefix("0x"),)).fetchone()
        return JournalEntry(*row) if row else None

    def pending(self, sender: str | None = None) -> list[JournalEntry]:
        query, args = "SELECT * FROM txs WHERE status = ?", [PENDING]
        if sender:
            query, args = query + " AND sender = ?", [*args, sender]
        with self._lock:
            return [JournalEntry(*row) for row in self._db.execute(query + " ORDER BY sender, nonce", args)]

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return [JournalEntry(*row) for row in self._db.execute("SELECT * FROM txs ORDER BY created_at")]

    # ---- restart --------------------------------------------------------------------------------

    def recover(self, client: StacksClient) -> list[tuple[JournalEntry, str]]:
        """Re-check every pending transaction on the node; returns (entry, what happened) for each:
        "success"/"failed"/"dropped"/"rejected" (settled now), "rebroadcast" or "pending" (still waiting).
        Raises NetworkError when the node cannot be reached (nothing is changed then)."""
        return [(entry, self._check(client, entry)) for entry in self.pending()]

    def _check(self, client: StacksClient, entry: JournalEntry) -> str:
        data = client.get_transaction(entry.txid)
        node_status = data.get("tx_status", "pending") if data else None
        if node_status == "pending":
            return "pending"
        if node_status:
            return self.settle_from_node(entry.txid, node_status, str(data.get("tx_result", {}).get("repr", "")))
        if client.get_account(entry.sender).nonce > entry.nonce:
            # The node never saw it and that nonce is used: another transaction took its place.
            self.settle(entry.txid, DROPPED, "the nonce was used by another transaction")
            return DROPPED
        try:
            self.broadcast(client, entry)
        except TransactionRejected:
            return REJECTED
        return "rebroadcast"


def _row(entry: JournalEntry) -> tuple:
    return (entry.txid, entry.sender, entry.nonce, entry.function, entry.key, entry.raw_hex, entry.status,
            entry.broadcasts, entry.detail, entry.created_at, entry.updated_at)


def _already_known(refused: TransactionRejected) -> bool:
    """The node already holds these very bytes (a resend after a lost answer): not a failure."""
    return refused.reason in ("AlreadyInMempool", "DuplicateTransaction") or "already" in refused.reason.lower()


__all__ = ["TxJournal", "JournalEntry", "NetworkError", "PENDING", "SUCCESS", "FAILED", "REJECTED", "DROPPED"]
