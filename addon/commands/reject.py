"""Reject chunks whose result is wrong or incomplete; reassign or cancel them afterwards."""

from . import decide

add_arguments = decide.add_arguments


def run(args) -> int:
    return decide.run_action(args, "reject")
