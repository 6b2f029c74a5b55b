"""Everything that imports bpy: preferences, scene settings, operators, panels, the CLI command.

The worker thread (worker.py) does everything slow and talks to the UI only through typed messages
(messages.py) that a bpy.app.timers callback applies to the session (session.py); the panels draw from
the session alone. Headless, timers never fire: operators run their task blocking instead.
"""

import time

import bpy

from . import (
    cli_command,
    farm_operators,
    farm_tasks,
    operators,
    panels,
    preferences,
    previews,
    progress,
    properties,
    wallet,
    worker,
)
from .identity import preferences as addon_preferences
from .identity import user_dir
from .session import SESSION

classes: tuple = (*preferences.classes, *properties.classes, *operators.classes, *farm_operators.classes,
                  *panels.classes)

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)
TIMER_IDLE_S, TIMER_BUSY_S = 0.5, 0.1
FOLLOW_S = 5.0  # how often unfinished chunks are followed while the wallet is unlocked
_follow = {"loaded": False, "last": 0.0}


def _tag_redraw() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "PROPERTIES"):
                area.tag_redraw()


def _tick() -> float:
    """The UI thread's share: apply what the worker sent, redraw if anything changed, and now and then
    queue a quiet follow round. Kept short: no network, no disk but new preview thumbnails."""
    if worker.drain():
        previews.sync(SESSION.jobs)
        progress.sync(SESSION)
        _tag_redraw()
    _maybe_follow()
    return TIMER_BUSY_S if worker.busy() else TIMER_IDLE_S


def _maybe_follow() -> None:
    try:
        prefs = addon_preferences()
    except KeyError:  # being disabled
        return
    if not _follow["loaded"]:
        _follow["loaded"] = True
        worker.start("Reading the job list", farm_tasks.load, user_dir(), preferences.endpoints(prefs), quiet=True)
        return
    unfinished = any(c.state not in ("downloaded", "cancelled", "expired") for j in SESSION.jobs for c in j.chunks)
    if not (SESSION.unlocked and unfinished) or worker.busy() or not preferences.network_allowed(prefs)[0]:
        return
    if time.monotonic() - _follow["last"] >= FOLLOW_S:
        _follow["last"] = time.monotonic()
        worker.start("Following the jobs", farm_tasks.refresh, user_dir(), preferences.endpoints(prefs),
                     SESSION.private_key(), quiet=True)


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
    progress.end()
    previews.clear()
    cli_command.unregister()
    properties.unregister()
    _unregister_classes()


def cli_registered() -> bool:
    return cli_command.registered()
