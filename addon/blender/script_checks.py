"""Pre-flight: what in the scene needs Python or an add-on, which a provider does not run or have.

Providers open the file with scripts off and no add-ons (server/provider/render.py, hardening.py), so:
a driver whose expression is not a "simple expression" keeps the value saved in the file instead of
following the animation (Blender evaluates simple expressions without Python); a node whose type an
add-on defines does nothing (in a headless Blender without the add-on it is a `NodeUndefined`); Freestyle
Python style modules are switched off by the provider; a text block registered to run on load never runs.
"""

from __future__ import annotations

import bpy

from ..farm.problems import ERROR, WARNING, Problem
from .trace import describe, node_trees, reached_ids

# Modules of classes Blender defines itself (everything else registering a node type is an add-on).
_BUILTIN_MODULES = ("bpy.types", "_bpy_types")


def script_problems(scene) -> list[Problem]:
    return [*_driver_problems(), *_node_problems(), *_freestyle_problems(scene), *_text_problems()]


def _animated(id_block):
    """The ID and the data-blocks embedded in it that can hold their own drivers (node trees, shape keys)."""
    yield id_block, describe(id_block)
    tree = getattr(id_block, "node_tree", None)
    if tree is not None:
        yield tree, describe(id_block, "node tree")


def _driver_problems() -> list[Problem]:
    problems = []
    for id_block in reached_ids():
        for holder, where in _animated(id_block):
            anim = getattr(holder, "animation_data", None)
            for curve in (anim.drivers if anim else ()):
                driver = curve.driver
                if driver.type != "SCRIPTED" or driver.is_simple_expression:
                    continue
                target = f"{where} > {_property(holder, curve)}"
                problems.append(Problem("driver", WARNING, None, f"{target} is driven by the expression "
                                        f"{driver.expression!r}, which needs Python: providers render with scripts "
                                        "off, so it keeps the value saved in the file on every frame. Use a simple "
                                        "expression (arithmetic on the driver's variables and frame, functions such "
                                        "as sin or min) or bake the animation to keyframes (Object > Animation > "
                                        "Bake Action).", datablock=target))
    return problems


def _property(holder, curve) -> str:
    """The driven property as the artist reads it: `location[0]`, but `...default_value` for a single value."""
    try:
        value = holder.path_resolve(curve.data_path)
    except ValueError:
        value = None
    array = hasattr(value, "__len__") and not isinstance(value, str)
    return curve.data_path + (f"[{curve.array_index}]" if array else "")


def _from_addon(node) -> bool:
    return node.bl_idname == "NodeUndefined" or type(node).__module__ not in _BUILTIN_MODULES


def _node_problems() -> list[Problem]:
    problems = []
    for tree, owner in node_trees():
        for node in tree.nodes:
            if not _from_addon(node):
                continue
            where = f"{describe(owner)} > node '{node.name}'"
            source = ("whose add-on is not installed here" if node.bl_idname == "NodeUndefined"
                      else f"defined by the add-on '{type(node).__module__.split('.')[0]}'")
            problems.append(Problem("addon_data", ERROR, None, f"{where} is a node {source}; providers render "
                                    "without add-ons, so it does nothing there. Replace it with built-in nodes (for "
                                    "an add-on's group node: Ungroup it), or remove it.", datablock=where))
    return problems


def _freestyle_problems(scene) -> list[Problem]:
    if not scene.render.use_freestyle:
        return []
    problems = []
    for layer in scene.view_layers:
        settings = layer.freestyle_settings
        if layer.use_freestyle and settings.mode == "SCRIPT":
            where = f"{describe(scene)} > view layer '{layer.name}'"
            problems.append(Problem("addon_data", WARNING, None, f"{where} draws Freestyle lines with Python style "
                                    "modules, which providers switch off (they run code): the lines would be "
                                    "missing. Switch Freestyle to the Parameter Editor mode.", datablock=where))
    return problems


def _text_problems() -> list[Problem]:
    return [Problem("addon_data", WARNING, None, f"{describe(text)} is registered to run when the file opens; "
                    "providers never run scripts, so whatever it sets up (driver functions, properties, nodes) is "
                    "missing there. Make the scene work without it, or bake what it drives.",
                    datablock=describe(text))
            for text in bpy.data.texts if text.use_module]
