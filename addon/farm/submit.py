"""From a packed scene to chunks on chain, recorded in the job list: planning + the requester's submit.

Shared by the panel's worker and `submit` on the command line. The chunks are written to the job list
the moment create-jobs is mined (from the flow's JobsCreated event), before the manifests are stored
on the relay, so a relay failure after that point still leaves them listed for Cancel or a retry.
"""

from __future__ import annotations

from . import planning
from .events import JobsCreated, Planned
from .job_list import JobList, JobRecord
from .manifest import RenderSettings
from .package import Package
from .requester import Requester, SubmitRequest


def submit_package(requester: Requester, package: Package, terms: planning.Terms, named: list[str], *,
                   render: RenderSettings, name: str, output: str, job_list: JobList) -> list[JobRecord]:
    """Plan over the `named` providers (or, without names, every provider on chain), announce the plan
    (a Planned event), then submit it."""
    farm = requester.farm
    providers = planning.candidates(farm, named, terms)
    result = planning.plan(farm, providers, terms)
    requester.emit(Planned(result, priced=terms.reward is None))
    chunks = planning.requests(result)
    # What a later reassignment may choose from: the providers considered, less the excluded ones.
    allowed = tuple(a for a in dict.fromkeys([*terms.pinned, *(p.address for p in providers)])
                    if a not in terms.excluded)
    request = SubmitRequest(files=package.file_map(),
                            main_blend=package.blend, blender_version=package.blender_version, chunks=chunks,
                            render=render, min_reputation=terms.min_reputation)

    def record(job_id: int, batch_id: int, chunk, envelope: bytes = b"") -> JobRecord:
        return JobRecord(job_id, batch_id, chunk.provider, chunk.frames.start, chunk.frames.end, chunk.reward,
                         name, output, farm.contract_id, envelope.hex(),
                         candidates=allowed)

    emit = requester.emit

    def keep_created(event) -> None:
        if isinstance(event, JobsCreated):
            job_list.add([record(job_id, event.batch_id, chunk) for job_id, chunk in
                          zip(event.job_ids, chunks, strict=True)])
        emit(event)

    requester.emit = keep_created
    try:
        submission = requester.submit(request)
    finally:
        requester.emit = emit
    records = [record(job.job_id, submission.batch_id, chunk, job.envelope)
               for job, chunk in zip(submission.jobs, chunks, strict=True)]
    job_list.add(records)
    return records
