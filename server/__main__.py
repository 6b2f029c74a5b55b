"""`python -m server <command>`: one entry point for the server-side programs.

Each command lives in a module with `add_arguments(parser)` and `run(args) -> int`; it is imported only
when chosen, so one command's dependencies never slow down or break another.
"""

import argparse
import importlib
import sys

# name → (module, one-line help). Add a command by adding a line.
COMMANDS = {
    "devnet": ("server.devnet", "run the local Stacks chain (simnet behind the node/API endpoints)"),
    "relay": ("server.relay.cli", "run the relay server (encrypted blobs, job documents, progress)"),
    "provider": ("server.provider.cli", "run a provider agent (render jobs for STX) and manage its registration"),
    "demo": ("server.demo", "run the main job locally: chain, relay, requester and provider on this machine"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        # Each command's options are added only when it is chosen (see main), so its module is not
        # imported for the top-level --help.
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        if argv and not argv[0].startswith("-"):
            parser.error(f"unknown command '{argv[0]}': choose one of {', '.join(COMMANDS)}")
        parser.parse_args(argv)  # handles --help
        parser.print_help()
        return 2
    name, rest = argv[0], argv[1:]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    command_parser = argparse.ArgumentParser(prog=f"python -m server {name}", description=help_text)
    module.add_arguments(command_parser)
    return module.run(command_parser.parse_args(rest))


if __name__ == "__main__":
    sys.exit(main())
