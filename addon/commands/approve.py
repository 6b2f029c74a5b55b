"""Approve chunks whose result is complete (previews opened first); the provider claims, the frames unlock."""

from . import decide

add_arguments = decide.add_arguments


def run(args) -> int:
    return decide.run_action(args, "approve")
