"""approve / reject / cancel: one chain step on chunks of the job list (shared by those three commands).

Not a command itself: approve.py, reject.py and cancel.py call `run_action`.
"""

from __future__ import annotations

import argparse

from . import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", type=int, nargs="+", metavar="JOB_ID", help="job id(s) from `status`")
    common.add_connection_arguments(parser)


def run_action(args: argparse.Namespace, action: str) -> int:
    from ..farm.connection import open_requester
    from ..farm.errors import FarmError
    from .follow_display import EventPrinter

    try:
        endpoints = common.endpoints(args)
        home = common.home(args)
        private_key = common.unlock(args)
    except common.USER_ERRORS as error:
        return common.fail(str(error), 2)
    try:
        with open_requester(endpoints, home, private_key, on_event=EventPrinter()) as requester:
            for job_id in args.job:
                if action == "approve":
                    review = requester.review(job_id)
                    if not review.complete:
                        return common.fail(f"job {job_id} lacks frames {review.missing_frames}: reject it instead")
                    requester.approve(job_id)
                    print(f"job {job_id} approved; the frames unlock when the provider claims (`download`)")
                elif action == "reject":
                    requester.reject(job_id)
                    print(f"job {job_id} rejected; reassign or cancel it to get the escrow back")
                else:
                    refund = requester.cancel(job_id)
                    print(f"job {job_id} cancelled; {refund / 1e6:g} STX back to the wallet")
    except FarmError as error:
        return common.fail(str(error))
    return 0
