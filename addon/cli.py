"""The add-on's headless command line: `python -m addon COMMAND …` with the bpy wheel, or Blender's CLI.

Each sub-command is a module `addon/commands/<name>.py` with `add_arguments(parser)` and
`run(args) -> int`, and its module docstring as help; list it in COMMANDS. Nothing imports bpy here:
a command imports it when it runs, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("pack", "estimate", "submit", "resume", "status", "approve", "reject", "download", "cancel",
            "wallet")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of `only` (then no other command module is imported: some import
    network and crypto libraries, and a re-pack that needs no Blender finishes in a tenth of a second)."""
    parser = argparse.ArgumentParser(prog="python -m addon", description="Render Farm on Stacks, headless.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in [only] if only in COMMANDS else COMMANDS:
        module = importlib.import_module(f"{__package__}.commands.{name}")
        doc = (module.__doc__ or "").strip()
        sub = commands.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    return args._run(args)
