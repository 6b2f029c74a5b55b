"""Cancel chunks no provider started (or rejected/declined ones); the escrow goes back to the wallet."""

from . import decide

add_arguments = decide.add_arguments


def run(args) -> int:
    return decide.run_action(args, "cancel")
