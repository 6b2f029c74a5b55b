"""From a packed scene to chunks on chain, recorded in the job list: planning + the requester's submit; and
the resume of a submit that a relay failure cut short.

Shared by the panel's worker and `submit` / `resume` on the command line. The chunks are written to the job
list the moment create-jobs is mined (from the flow's JobsCreated event, with their sealed manifests and the
package folder), marked `manifest_sent=False` until the relay stored every manifest, so a relay failure
after that point leaves them listed for `resume` (or Cancel).
"""

from __future__ import annotations

from . import planning
from .errors import FarmError
from .events import JobsCreated, Planned
from .job_list import JobList, JobRecord
from .manifest import RenderSettings
from .package import Package, PackageError
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

    def record(job_id: int, batch_id: int, chunk, envelope: bytes, sent: bool) -> JobRecord:
        return JobRecord(job_id, batch_id, chunk.provider, chunk.frames.start, chunk.frames.end, chunk.reward,
                         name, output, farm.contract_id, envelope.hex(),
                         candidates=allowed, manifest_sent=sent, package_dir=package.root)

    emit = requester.emit

    def keep_created(event) -> None:
        if isinstance(event, JobsCreated):
            job_list.add([record(job_id, event.batch_id, chunk, envelope, False) for job_id, chunk, envelope in
                          zip(event.job_ids, chunks, event.envelopes, strict=True)])
        emit(event)

    requester.emit = keep_created
    try:
        submission = requester.submit(request)
    finally:
        requester.emit = emit
    records = [record(job.job_id, submission.batch_id, chunk, job.envelope, True)
               for job, chunk in zip(submission.jobs, chunks, strict=True)]
    job_list.add(records)
    return records


def unsent(job_list: JobList, contract_id: str, job_ids: list[int] | None = None) -> list[JobRecord]:
    """The listed chunks whose sealed manifest the relay has not stored yet (all of them, or of `job_ids`)."""
    return [r for r in job_list.records(contract_id)
            if not r.manifest_sent and (job_ids is None or r.job_id in job_ids)]


def resume(requester: Requester, job_list: JobList, contract_id: str, job_ids: list[int] | None = None
           ) -> list[JobRecord]:
    """Finish the submits a relay failure cut short: for each chunk created on chain whose manifest the relay
    did not store, upload what the relay lacks from its package and store the manifest; the job list then
    marks it sent. Returns the chunks resumed (none: nothing was waiting)."""
    done = []
    packages: dict[str, dict] = {}
    for record in unsent(job_list, contract_id, job_ids):
        if not record.envelope_hex:
            raise FarmError(f"job {record.job_id} was created by an older version that did not keep its sealed "
                            "manifest: cancel it (its escrow comes back) and submit the scene again")
        if record.package_dir not in packages:
            try:
                packages[record.package_dir] = Package.load(record.package_dir).file_map() if record.package_dir \
                    else {}
            except (OSError, ValueError, KeyError, PackageError):
                packages[record.package_dir] = {}  # only needed if the relay lost files: resend_scene says so
        requester.resend_scene(record.job_id, bytes.fromhex(record.envelope_hex), packages[record.package_dir],
                               record.provider)
        done.append(job_list.update(record.job_id, contract_id, manifest_sent=True))
    return done
