"""The farm's worker tasks for the panel: submit, follow, approve / reject / cancel, download.

Each is `task(emit, …)` run by worker.py off the UI thread, over the same bpy-free code the headless
CLI uses (addon.farm.submit, follow, job_list, connection). They report only through messages.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..farm import follow
from ..farm.connection import JOURNAL_FILE, Endpoints, open_requester
from ..farm.events import RenderProgress, Step, UploadProgress
from ..farm.follow import Follower
from ..farm.job_list import JobList
from ..farm.tx_journal import TxJournal
from . import messages as m

PREVIEW_DIR = "previews"


def _pending(home: Path) -> tuple[m.PendingTx, ...]:
    path = Path(home) / JOURNAL_FILE
    if not path.exists():
        return ()
    journal = TxJournal(path)
    try:
        now = time.time()
        return tuple(m.PendingTx(e.txid, e.function, e.nonce, e.status, now - e.created_at) for e in journal.pending())
    finally:
        journal.close()


def _views(states, previews: dict[int, tuple[str, ...]]) -> tuple[m.JobView, ...]:
    by_name: dict[str, list[m.ChunkView]] = {}
    outputs: dict[str, str] = {}
    for s in states:
        r = s.record
        by_name.setdefault(r.name, []).append(m.ChunkView(r.job_id, (r.frame_start, r.frame_end), r.provider,
                                                          s.state, s.progress, previews.get(r.job_id, ()),
                                                          unsent=not r.manifest_sent))
        if r.downloaded:
            outputs[r.name] = str(Path(r.output).parent)
    return tuple(m.JobView(name, tuple(chunks), outputs.get(name, "")) for name, chunks in by_name.items())


def _listed(home: Path, endpoints: Endpoints) -> tuple[m.JobView, ...]:
    """The job list as last known, without the network (shown at start and while locked)."""
    from ..farm.contract import JobStatus
    from ..farm.follow import ChunkState

    states = [ChunkState(r, JobStatus.COMPLETED if r.downloaded else JobStatus.PENDING, 0,
                         r.frame_end - r.frame_start + 1, note="not refreshed yet")
              for r in JobList(home).records(endpoints.contract_id)]
    return _views(states, {})


def load(emit, home: Path, endpoints: Endpoints) -> str:
    emit(m.JobsChanged(_listed(home, endpoints)))
    emit(m.PendingChanged(_pending(home)))
    return ""


def _forward(emit, task: str):
    from ..farm.events import Planned

    def on_event(event) -> None:
        if isinstance(event, Planned):  # the plan being submitted, shown in the estimate box
            emit(m.QuoteChanged(quote_lines(event.estimate, event.priced)))
        elif isinstance(event, UploadProgress):
            emit(m.TaskProgress(task, event.done, event.total, f"uploading {event.done / 1e6:.1f} MB"))
        elif isinstance(event, RenderProgress):
            emit(m.TaskProgress(task, event.frames_done, event.frames_total, f"job {event.job_id} rendering"))
        elif isinstance(event, Step):
            emit(m.TaskStep(task, event.text))
    return on_event


def refresh(emit, home: Path, endpoints: Endpoints, private_key: str) -> str:
    """One follow round: states from the chain, heartbeats from the relay, previews of submitted results."""
    from ..farm.contract import JobStatus

    job_list = JobList(home)
    with open_requester(endpoints, home, private_key, on_event=_forward(emit, "Following the jobs")) as requester:
        states = Follower(requester, job_list, endpoints.contract_id, download=False).poll()
        previews = {}
        for state in states:
            if state.status == JobStatus.SUBMITTED:
                folder = Path(home) / PREVIEW_DIR / f"job-{state.record.job_id}"
                if not folder.is_dir():
                    review = requester.review(state.record.job_id)
                    folder.mkdir(parents=True, exist_ok=True)
                    for frame, data in review.previews.items():
                        (folder / f"{frame:06d}.png").write_bytes(data)
                previews[state.record.job_id] = tuple(str(p) for p in sorted(folder.glob("*.png")))
    emit(m.JobsChanged(_views(states, previews)))
    emit(m.PendingChanged(_pending(home)))
    return ""


def quote_lines(result, priced: bool) -> tuple[str, ...]:
    """The estimate box's lines for a plan: the reward it implies, the providers, the wall time."""
    providers = {c.provider for c in result.chunks}
    how = "at the providers' prices" if priced else "your reward, split by frames"
    return (f"Reward {result.cost_micro_stx / 1e6:g} STX for {len(result.chunks)} chunk(s) ({how})",
            f"on {len(providers)} provider(s), about {result.wall_seconds / 60:.1f} min in parallel")


def quote(emit, endpoints: Endpoints, terms, named: list[str]) -> str:
    """Plan against the providers on chain (no wallet, nothing sent): the reward the estimate implies."""
    from ..farm.contract import RenderFarm
    from ..farm.planning import candidates, plan

    emit(m.QuoteChanged(()))
    endpoints.require()
    with endpoints.client() as client:
        farm = RenderFarm(client, endpoints.contract_id)
        result = plan(farm, candidates(farm, named, terms), terms, check=False)
    lines = quote_lines(result, terms.reward is None)
    emit(m.QuoteChanged(lines))
    return lines[0]


def submit(emit, home: Path, endpoints: Endpoints, private_key: str, planned, package_dir: str, blender_version: str,
           terms, candidates: list[str], render, name: str, output: str) -> str:
    """Pack, then plan with the one planner (addon.farm.planning, via submit_package) and submit."""
    from ..farm.submit import submit_package
    from .pack import write_planned

    task = "Submitting"
    packed = write_planned(planned, package_dir, in_session=True, blender_version=blender_version,
                           progress=lambda done, total: emit(m.TaskProgress(task, done, total or 1, "packing")))
    try:
        with open_requester(endpoints, home, private_key, on_event=_forward(emit, task)) as requester:
            records = submit_package(requester, packed.package, terms, candidates, render=render, name=name,
                                     output=output, job_list=JobList(home))
    finally:  # chunks created before a relay failure are listed too, with Resume
        load(emit, home, endpoints)
    return f"{len(records)} chunk(s) created on chain: {', '.join(str(r.job_id) for r in records)}"


def resume(emit, home: Path, endpoints: Endpoints, private_key: str) -> str:
    """Store the manifests (and files) a relay failure kept from the relay after create-jobs (farm.submit.resume)."""
    from ..farm.submit import resume as resume_submits

    with open_requester(endpoints, home, private_key, on_event=_forward(emit, "Resuming")) as requester:
        records = resume_submits(requester, JobList(home), endpoints.contract_id)
    load(emit, home, endpoints)
    if not records:
        return "Nothing to resume: the relay has every chunk's manifest"
    return f"Resumed {len(records)} chunk(s): their providers can start"


def decide(emit, home: Path, endpoints: Endpoints, private_key: str, action: str, job_id: int) -> str:
    with open_requester(endpoints, home, private_key) as requester:
        if action == "reassign":
            job_list = JobList(home)
            record = job_list.get(job_id, endpoints.contract_id)
            if record is None:
                raise ValueError(f"job {job_id} is not in this wallet's job list")
            text = follow.reassign(requester, job_list, record)[1]
        else:
            text = follow.decide(requester, action, job_id)
    refresh(emit, home, endpoints, private_key)
    return text[0].upper() + text[1:]


def download(emit, home: Path, endpoints: Endpoints, private_key: str, job_id: int) -> str:
    job_list = JobList(home)
    record = job_list.get(job_id, endpoints.contract_id)
    if record is None:
        raise ValueError(f"job {job_id} is not in this wallet's job list")
    with open_requester(endpoints, home, private_key) as requester:
        written = requester.download(job_id, record.output)
    job_list.update(job_id, endpoints.contract_id, downloaded=True)
    load(emit, home, endpoints)
    return f"{len(written)} frames of job {job_id} written to {Path(record.output).parent}"
