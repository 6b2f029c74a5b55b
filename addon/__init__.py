"""Render Farm on Stacks: Blender extension entry point.

Only register()/unregister() live here. Nothing from bpy is imported at module level, so the
bpy-free subpackages (`addon.stacks`, `addon.farm`) can be imported by the relay, the provider and
the tests without Blender.
"""


def register():
    from .blender import register as _register

    _register()


def unregister():
    from .blender import unregister as _unregister

    _unregister()
