"""Everything that imports bpy: preferences, scene settings, operators, panels, the CLI command.

The worker thread (worker.py) does everything slow and talks to the UI only through typed messages
(messages.py) that a bpy.app.timers callback applies to the session (session.py); the panels draw from
the session alone. Headless, timers never fire: operators run their task blocking instead.
"""

import bpy

from . import cli_command, operators, panels, preferences, properties, wallet, worker
from .identity import user_dir

classes: tuple = (*preferences.classes, *properties.classes, *operators.classes, *panels.classes)

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)
TIMER_IDLE_S, TIMER_BUSY_S = 0.5, 0.1


def _tag_redraw() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "PROPERTIES"):
                area.tag_redraw()


def _tick() -> float:
    """The UI thread's share: apply what the worker sent, redraw if anything changed. Kept short."""
    if worker.drain():
        _tag_redraw()
    return TIMER_BUSY_S if worker.busy() else TIMER_IDLE_S


def register():
    _register_classes()
    properties.register()
    cli_command.register()
    if bpy.app.background:
        worker.run_blocking("Looking for the wallet", wallet.find, user_dir())
    else:
        worker.start("Looking for the wallet", wallet.find, user_dir())
        bpy.app.timers.register(_tick, first_interval=TIMER_BUSY_S, persistent=True)


def unregister():
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    worker.stop()
    cli_command.unregister()
    properties.unregister()
    _unregister_classes()


def cli_registered() -> bool:
    return cli_command.registered()
