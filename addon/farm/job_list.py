"""The requester's persisted job list: every chunk it created, so the panel and `status` find them again
after a restart (the chain is the truth for states; this keeps what only the requester knows).

A JSON file in the user's folder, replaced atomically on each change. Per chunk: job id, batch, provider,
frames, reward, the sealed scene manifest (to resend it if the relay lost it), the scene's name, where
its frames go, and whether they were downloaded. bpy-free.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

JOB_LIST_FILE = "jobs.json"
VERSION = 1


class JobListError(Exception):
    """The job list file cannot be read; the message says what to do."""


@dataclass(frozen=True)
class JobRecord:
    job_id: int
    batch_id: int
    provider: str
    frame_start: int
    frame_end: int
    reward: int
    name: str  # the scene as the artist knows it, e.g. "shot010.blend 1-48"
    output: str  # absolute output pattern (Blender's '#' rule) the frames are written to
    contract_id: str
    envelope_hex: str = ""
    downloaded: bool = False
    created_at: float = 0.0
    candidates: tuple[str, ...] = ()  # the providers the artist allowed, for a reassignment
    tried: tuple[str, ...] = ()  # providers that rejected, declined or failed this chunk before
    # False from create-jobs until the relay stored the chunk's sealed manifest: a relay failure in between
    # leaves it False, and `resume` sends it (and any blob the relay lacks, from package_dir) again.
    manifest_sent: bool = True
    package_dir: str = ""


class JobList:
    def __init__(self, home: Path):
        self.path = Path(home) / JOB_LIST_FILE
        self._lock = threading.Lock()

    def records(self, contract_id: str | None = None) -> list[JobRecord]:
        with self._lock:
            return [r for r in self._read() if contract_id is None or r.contract_id == contract_id]

    def get(self, job_id: int, contract_id: str) -> JobRecord | None:
        return next((r for r in self.records(contract_id) if r.job_id == job_id), None)

    def add(self, records: list[JobRecord]) -> None:
        with self._lock:
            known = {(r.contract_id, r.job_id): r for r in self._read()}
            now = time.time()
            for record in records:
                known[(record.contract_id, record.job_id)] = replace(record, created_at=record.created_at or now)
            self._write(list(known.values()))

    def update(self, job_id: int, contract_id: str, **changes) -> JobRecord:
        with self._lock:
            records = self._read()
            for i, record in enumerate(records):
                if record.job_id == job_id and record.contract_id == contract_id:
                    records[i] = replace(record, **changes)
                    self._write(records)
                    return records[i]
        raise JobListError(f"job {job_id} is not in this job list ({self.path})")

    def _read(self) -> list[JobRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise JobListError(f"the job list {self.path} cannot be read ({exc}); move it away to start a new "
                               "one (the jobs stay on chain: `status --job N` still finds them)") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise JobListError(f"{self.path} is not a job list of version {VERSION}")
        return [JobRecord(**{**item, "candidates": tuple(item.get("candidates", ())),
                             "tried": tuple(item.get("tried", ()))}) for item in data["jobs"]]

    def _write(self, records: list[JobRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"version": VERSION, "jobs": [asdict(r) for r in sorted(records, key=lambda r: r.job_id)]},
                          indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".jobs-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
