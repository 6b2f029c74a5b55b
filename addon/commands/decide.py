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
    from ..farm.follow import decide
    from .follow_display import EventPrinter

    try:
        endpoints, home, private_key = common.prepared(args)
    except common.USER_ERRORS as error:
        return common.fail(str(error), 2)
    try:
        with open_requester(endpoints, home, private_key, on_event=EventPrinter()) as requester:
            for job_id in args.job:
                print(decide(requester, action, job_id))
    except FarmError as error:
        return common.fail(str(error))
    return 0
