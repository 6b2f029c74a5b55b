"""Finish submits a relay failure cut short: store the sealed manifests (and files) the relay lacks.

When the relay failed after create-jobs was mined, the chunks exist on chain (their reward escrowed) but
their providers cannot start: the relay has not stored their scene manifests. This sends each missing
manifest again from the job list (and first any file of the scene the relay lacks, from the package
folder; uploads are content-addressed, so nothing is sent twice). Safe to repeat.
Exit status: 0 done (or nothing to resume), 1 a farm error (the message says what to do), 2 bad input.
"""

from __future__ import annotations

import argparse

from . import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--job", type=int, action="append", metavar="ID", help="only this job (repeatable)")
    common.add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..farm.connection import open_requester
    from ..farm.errors import FarmError
    from ..farm.job_list import JobList, JobListError
    from ..farm.submit import resume, unsent
    from .follow_display import EventPrinter

    try:
        endpoints, home, private_key = common.prepared(args)
        job_list = JobList(home)
        waiting = unsent(job_list, endpoints.contract_id, args.job)
    except common.USER_ERRORS + (JobListError,) as error:
        return common.fail(str(error), 2)
    if not waiting:
        print("nothing to resume: the relay stored every listed chunk's manifest")
        return 0
    try:
        with open_requester(endpoints, home, private_key, on_event=EventPrinter()) as requester:
            for record in resume(requester, job_list, endpoints.contract_id, args.job):
                print(f"job {record.job_id}: manifest stored on the relay; {record.provider} can start")
    except FarmError as error:
        return common.fail(str(error))
    return 0
