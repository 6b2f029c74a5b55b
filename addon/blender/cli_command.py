"""`blender -c render_farm …`: Blender's command-line entry, registered with bpy.utils.register_cli_command.

It hands the arguments to the same `cli.main` that `python -m addon …` runs, so a studio pipeline gets
the same commands inside a real Blender as CI gets with the bpy wheel.
"""

import bpy

COMMAND = "render_farm"
_handle = None


def run(argv: list[str]) -> int:
    from .. import cli  # the headless CLI, bpy-free except for the commands that pack a scene

    return cli.main(argv)


def register() -> None:
    global _handle
    _handle = bpy.utils.register_cli_command(COMMAND, run)


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.utils.unregister_cli_command(_handle)
        _handle = None


def registered() -> bool:
    return _handle is not None
