"""The add-on's in-memory state for this Blender session, changed only by applying worker messages.

The panels draw from this alone (no network, no disk in draw()). The unlocked key is held here for the
session and nowhere else: not in preferences, scene properties, the .blend or a log.
"""

from dataclasses import dataclass, field

from . import messages as m

# The one status enum the panels switch on.
OFFLINE, NO_WALLET, LOCKED, BUSY, READY = "OFFLINE", "NO_WALLET", "LOCKED", "BUSY", "READY"


@dataclass
class Session:
    address: str | None = None
    network: str = ""
    wallet_checked: bool = False  # the wallet file was looked for at least once
    balance: int | None = None  # µSTX, None until read
    task: str = ""  # the running task, "" when idle
    progress: tuple[float, float] = (0.0, 0.0)
    progress_text: str = ""
    last_error: str = ""
    last_info: str = ""
    jobs: tuple[m.JobView, ...] = ()
    pending: tuple[m.PendingTx, ...] = ()
    estimate: tuple[str, ...] = ()  # the last estimate, as lines for the panel
    quote: tuple[str, ...] = ()  # the last quote against the chain's providers (reward, cost, wall time)
    problems: tuple[tuple[str, str], ...] = ()  # the last pre-flight: (severity, what to do)
    backup_words: str = field(default="", repr=False)  # a new wallet's words until the artist confirms
    reports: list[tuple[str, str]] = field(default_factory=list)  # ({'INFO'|'ERROR'}, text) not yet shown
    _private_key: str | None = field(default=None, repr=False)

    def status(self, online_access: bool) -> str:
        if not online_access:
            return OFFLINE
        if self.address is None:
            return NO_WALLET
        if self._private_key is None:
            return LOCKED
        return BUSY if self.task else READY

    @property
    def unlocked(self) -> bool:
        return self._private_key is not None

    def private_key(self) -> str:
        if self._private_key is None:
            raise RuntimeError("the wallet is locked: unlock it in the Render Farm panel first")
        return self._private_key

    def hold_key(self, private_key: str | None) -> None:
        """Keep (or, with None, forget) the unlocked key for this session."""
        self._private_key = private_key

    def apply(self, message) -> None:
        if isinstance(message, m.TaskStarted):
            self.task, self.progress, self.progress_text, self.last_error = message.task, (0.0, 0.0), "", ""
        elif isinstance(message, m.TaskProgress):
            self.progress, self.progress_text = (message.done, message.total), message.text
        elif isinstance(message, m.TaskStep):
            self.progress_text = message.text
        elif isinstance(message, m.TaskFinished):
            self.task, self.last_info = "", message.text
            if message.text:
                self.reports.append(("INFO", message.text))
        elif isinstance(message, m.TaskFailed):
            self.task, self.last_error = "", f"{message.task}: {message.error}"
            self.reports.append(("ERROR", self.last_error))
        elif isinstance(message, m.WalletChanged):
            if message.address != self.address:
                self.balance = None
            self.address, self.network, self.wallet_checked = message.address, message.network, True
            if not message.unlocked:
                self._private_key = None
        elif isinstance(message, m.WalletUnlocked):
            if message.address == self.address:
                self._private_key = message.private_key
        elif isinstance(message, m.QuoteChanged):
            self.quote = message.lines
        elif isinstance(message, m.BackupWords):
            self.backup_words = message.words
        elif isinstance(message, m.BalanceRead):
            if message.address == self.address:
                self.balance = message.micro_stx
        elif isinstance(message, m.JobsChanged):
            self.jobs = message.jobs
        elif isinstance(message, m.PendingChanged):
            self.pending = message.pending
        else:
            raise TypeError(f"not a worker message: {message!r}")


SESSION = Session()
