"""Show the chunks in the job list: state on chain, provider, frames rendered; --wait follows them.

With --wait it keeps following until every listed chunk is downloaded or ended, approving complete
results and downloading frames like `submit --wait`. Without a wallet unlock nothing is written.
"""

from __future__ import annotations

import argparse
import time

from . import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--job", type=int, action="append", metavar="ID", help="only this job (repeatable)")
    parser.add_argument("--wait", action="store_true", help="follow to the frames on disk (approves complete results)")
    parser.add_argument("--timeout", type=float, default=3600, metavar="S", help="with --wait: give up after S s")
    common.add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..farm.connection import open_requester
    from ..farm.errors import FarmError
    from ..farm.follow import Follower
    from ..farm.job_list import JobList, JobListError
    from .follow_display import EventPrinter, follow_until_done

    try:
        endpoints, home, private_key = common.prepared(args)
        job_list = JobList(home)
        records = job_list.records(endpoints.contract_id)
    except common.USER_ERRORS + (JobListError,) as error:
        return common.fail(str(error), 2)
    job_ids = [r.job_id for r in records if not args.job or r.job_id in args.job]
    if not job_ids:
        print("no jobs in the job list" + (f" among {args.job}" if args.job else ""))
        return 0
    try:
        with open_requester(endpoints, home, private_key, on_event=EventPrinter()) as requester:
            if args.wait:
                return follow_until_done(requester, job_list, endpoints.contract_id, job_ids,
                                         deadline=time.monotonic() + args.timeout)
            follower = Follower(requester, job_list, endpoints.contract_id, download=False)
            for state in follower.poll(job_ids):
                r = state.record
                print(f"job {r.job_id}  frames {r.frame_start}-{r.frame_end}  {state.state:<11} "
                      f"{state.frames_done}/{state.frames_total}  provider {r.provider}  {r.name}"
                      + ("" if r.manifest_sent else "  (manifest not on the relay: run `resume`)"))
    except FarmError as error:
        return common.fail(str(error))
    return 0
