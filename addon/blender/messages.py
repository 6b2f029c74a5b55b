"""Typed messages from the worker thread to the UI thread (the only way the two talk).

The worker never touches bpy; it puts these on a queue and the UI thread applies them to the session
state in a timer (or, headless, right away). Each carries plain values only.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskStarted:
    task: str  # what the user sees: "Unlocking the wallet", "Uploading 12 files", …


@dataclass(frozen=True)
class TaskProgress:
    task: str
    done: float
    total: float
    text: str = ""


@dataclass(frozen=True)
class TaskStep:
    task: str
    text: str  # the step the task began: "creating 4 chunk(s) on chain, escrowing …"


@dataclass(frozen=True)
class TaskFinished:
    task: str
    text: str = ""  # reported as INFO


@dataclass(frozen=True)
class TaskFailed:
    task: str
    error: str  # what went wrong and what to do next, reported as ERROR


@dataclass(frozen=True)
class WalletChanged:
    address: str | None  # None: no wallet file
    network: str = ""
    unlocked: bool = False


@dataclass(frozen=True)
class WalletUnlocked:
    address: str
    private_key: str = field(repr=False)  # kept in memory for the session only; never printed


@dataclass(frozen=True)
class BackupWords:
    """A new wallet's 24 words, shown once so the artist can write them down; never stored in clear."""
    words: str = field(repr=False)


@dataclass(frozen=True)
class BalanceRead:
    address: str
    micro_stx: int


@dataclass(frozen=True)
class ChunkView:
    job_id: int
    frames: tuple[int, int]
    provider: str
    state: str  # the contract's status name: open, rendering, submitted, approved, paid, rejected, …
    progress: float = 0.0  # 0..1 of frames rendered
    preview_paths: tuple[str, ...] = ()
    unsent: bool = False  # created on chain but its manifest is not on the relay yet: Resume sends it


@dataclass(frozen=True)
class JobView:
    name: str  # the scene's name and frame range, as the artist recognises it
    chunks: tuple[ChunkView, ...] = ()
    downloaded_to: str = ""

    @property
    def unsent(self) -> bool:
        return any(c.unsent for c in self.chunks)


@dataclass(frozen=True)
class JobsChanged:
    jobs: tuple[JobView, ...]


@dataclass(frozen=True)
class PendingTx:
    txid: str
    function: str
    nonce: int
    status: str
    age_s: float


@dataclass(frozen=True)
class PendingChanged:
    pending: tuple[PendingTx, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class QuoteChanged:
    """The planner's quote against the chain's providers, as lines for the estimate box."""
    lines: tuple[str, ...] = ()
