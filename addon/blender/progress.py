"""Blender's own progress indicator (the cursor's counter, the status bar) for the running task, besides
the panel's bar: `window_manager.progress_begin / progress_update / progress_end`, on the UI thread only.

Guarded: with no window manager (or a call refused, as when Blender shuts down) it does nothing, so a
background Blender and the bpy module run the same code.
"""

import bpy

STEPS = 1000  # progress_update takes a number between begin's min and max
_state = {"active": False, "value": -1}


def active() -> bool:
    return _state["active"]


def sync(session) -> None:
    """Begin, move or end the indicator to match `session.task` and `session.progress`."""
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        _state["active"] = False
        return
    try:
        if session.task:
            if not _state["active"]:
                wm.progress_begin(0, STEPS)
                _state.update(active=True, value=-1)
            done, total = session.progress
            value = round(STEPS * min(1.0, done / total)) if total else 0
            if value != _state["value"]:
                wm.progress_update(value)
                _state["value"] = value
        elif _state["active"]:
            end(wm)
    except (AttributeError, ReferenceError, RuntimeError):  # no window, or Blender is closing
        _state["active"] = False


def end(wm=None) -> None:
    wm = wm or getattr(bpy.context, "window_manager", None)
    if _state["active"] and wm is not None:
        try:
            wm.progress_end()
        except (AttributeError, ReferenceError, RuntimeError):
            pass
    _state.update(active=False, value=-1)
