"""Download, decrypt and verify the frames of completed chunks into the scene's output path (or --out).

A frame already on disk with the right hash is kept, so an interrupted download resumes. A chunk
whose secret is not revealed yet is reported (the provider claims after approval): rerun later.
"""

from __future__ import annotations

import argparse
import os

from . import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", type=int, nargs="+", metavar="JOB_ID", help="job id(s) from `status`")
    parser.add_argument("--out", metavar="DIR", help="write here instead of the output path kept at submit")
    common.add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..farm.connection import open_requester
    from ..farm.errors import FarmError
    from ..farm.job_list import JobList
    from .follow_display import EventPrinter

    try:
        endpoints, home, private_key = common.prepared(args)
    except common.USER_ERRORS as error:
        return common.fail(str(error), 2)
    job_list = JobList(home)
    try:
        with open_requester(endpoints, home, private_key, on_event=EventPrinter()) as requester:
            for job_id in args.job:
                record = job_list.get(job_id, endpoints.contract_id)
                if record is None and not args.out:
                    return common.fail(f"job {job_id} is not in the job list: give --out DIR", 2)
                pattern = os.path.join(os.path.abspath(args.out), os.path.basename(record.output) if record else "")\
                    if args.out else record.output
                written = requester.download(job_id, pattern)
                if record:
                    job_list.update(job_id, endpoints.contract_id, downloaded=True)
                print(f"job {job_id}: {len(written)} frames in {os.path.dirname(written[0]) if written else pattern}")
    except FarmError as error:
        return common.fail(str(error))
    return 0
