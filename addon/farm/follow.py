"""Following submitted chunks to the frames on disk, bpy-free: one polling round at a time.

`Follower.poll()` reads each unfinished chunk's state from the chain and its latest heartbeat from the
relay, and, by the policy given, approves a complete result (its previews opened, every frame present)
or rejects an incomplete one, and downloads the frames of a chunk whose secret was revealed. The panel
calls it from its worker every few seconds; `submit --wait` and `status --wait` call it in a loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from .contract import JobStatus
from .errors import JobStateError
from .events import RenderProgress
from .job_list import JobList, JobRecord
from .relay_errors import RelayRefused, RelayUnavailable

ENDED = (JobStatus.CANCELLED, JobStatus.EXPIRED)
REASSIGNABLE = (JobStatus.REJECTED, JobStatus.DECLINED)


@dataclass(frozen=True)
class ChunkState:
    record: JobRecord
    status: JobStatus
    frames_done: int
    frames_total: int
    eta_seconds: float | None = None
    note: str = ""  # the last thing done or the last problem, for a person

    @property
    def state(self) -> str:
        return "downloaded" if self.record.downloaded else self.status.name.lower()

    @property
    def finished(self) -> bool:
        return self.record.downloaded or self.status in ENDED

    @property
    def progress(self) -> float:
        if self.record.downloaded or self.status in (JobStatus.APPROVED, JobStatus.COMPLETED):
            return 1.0
        return self.frames_done / self.frames_total if self.frames_total else 0.0


class Follower:
    """`auto_approve`: approve complete results and reject incomplete ones without asking (headless
    `--wait`); the panel leaves it off and shows Approve / Reject. `download`: fetch revealed frames."""

    def __init__(self, requester, job_list: JobList, contract_id: str, *, auto_approve: bool = False,
                 download: bool = True):
        self.requester, self.job_list, self.contract_id = requester, job_list, contract_id
        self.auto_approve, self.download = auto_approve, download
        self._seq: dict[int, int] = {}
        self._last: dict[int, tuple[int, int, float | None]] = {}

    def poll(self, job_ids: list[int] | None = None) -> list[ChunkState]:
        states = []
        for record in self.job_list.records(self.contract_id):
            if job_ids is not None and record.job_id not in job_ids:
                continue
            states.append(self._step(record))
        return states

    def _step(self, record: JobRecord) -> ChunkState:
        frames_total = record.frame_end - record.frame_start + 1
        if record.downloaded:
            return ChunkState(record, JobStatus.COMPLETED, frames_total, frames_total)
        job = self.requester.job(record.job_id)
        done, total, eta = self._heartbeat(record.job_id, frames_total, job.status)
        note = ""
        if job.status == JobStatus.SUBMITTED and self.auto_approve:
            review = self.requester.review(record.job_id)
            if review.complete:
                self.requester.approve(record.job_id)
                note = f"approved after opening {len(review.previews)} previews"
            else:
                self.requester.reject(record.job_id)
                note = f"rejected: frames {review.missing_frames} are missing"
            job = self.requester.job(record.job_id)
        if job.status in REASSIGNABLE and self.auto_approve:
            record, note = reassign(self.requester, self.job_list, record)
            job = self.requester.job(record.job_id)
        if job.status == JobStatus.COMPLETED and job.secret and self.download:
            written = self.requester.download(record.job_id, record.output)
            record = self.job_list.update(record.job_id, self.contract_id, downloaded=True)
            note = f"{len(written)} frames written next to {record.output}"
        return ChunkState(record, job.status, done, total, eta, note)

    def _heartbeat(self, job_id: int, frames_total: int, status: JobStatus) -> tuple[int, int, float | None]:
        if status in (JobStatus.PENDING, JobStatus.IN_PROGRESS):
            try:
                page = self.requester.relay.jobs.progress(job_id, after=self._seq.get(job_id, 0), wait=0)
            except (RelayRefused, RelayUnavailable, OSError):
                pass  # progress is a nicety: a relay hiccup must not stop following (the chain decides)
            else:
                self._seq[job_id] = page.last_seq
                if page.events:
                    last = page.events[-1]
                    self._last[job_id] = (last.frames_done, last.frames_total or frames_total, last.eta_seconds)
                    self.requester.emit(RenderProgress(job_id, last.frames_done, last.frames_total,
                                                       last.eta_seconds))
        return self._last.get(job_id, (0, frames_total, None))


def decide(requester, action: str, job_id: int) -> str:
    """Approve (only a complete result, its previews opened), reject or cancel one chunk; what happened."""
    if action == "approve":
        review = requester.review(job_id)
        if not review.complete:
            raise JobStateError(f"job {job_id} lacks frames {review.missing_frames}: reject it instead")
        requester.approve(job_id)
        return f"job {job_id} approved: the frames unlock when the provider claims"
    if action == "reject":
        requester.reject(job_id)
        return f"job {job_id} rejected: cancel it to get the escrow back"
    if action == "cancel":
        return f"job {job_id} cancelled: {requester.cancel(job_id) / 1e6:g} STX back to the wallet"
    raise ValueError(f"unknown action {action!r}: approve, reject or cancel")


def replacement(requester, record: JobRecord) -> str | None:
    """The best other allowed provider the contract would give this chunk now, or None."""
    from .contract_errors import ContractError
    from .planning import rank_key, read_providers

    job = requester.job(record.job_id)
    skip = {record.provider, *record.tried}
    for provider in sorted(read_providers(requester.farm, record.candidates), key=lambda p: rank_key(p, ())):
        if provider.address in skip:
            continue
        try:
            requester.farm.check_assignment(provider.address, requester.address, job.reward, job.complexity,
                                            job.min_reputation)
        except ContractError:
            continue
        return provider.address
    return None


def reassign(requester, job_list: JobList, record: JobRecord) -> tuple[JobRecord, str]:
    """Give a rejected or declined chunk to the next allowed provider (its manifest sealed anew for it)."""
    new = replacement(requester, record)
    if new is None:
        return record, f"no other allowed provider can take job {record.job_id} now: add providers or cancel it"
    requester.reassign(record.job_id, new)
    record = job_list.update(record.job_id, record.contract_id, provider=new, tried=(*record.tried, record.provider))
    return record, f"reassigned to {new} (after {record.tried[-1]})"
