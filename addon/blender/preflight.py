"""Pre-flight: what in the loaded scene would make a farm render wrong, each with a way to fix it.

Path problems (missing, absolute, outside the project, not a file) come from the trace in pack.py;
this module checks the scene itself: saved state, frame range, output format and path, compositor
File Output nodes, simulation caches, render engine and features, the Blender version, and (script_checks.py)
what needs Python or an add-on that a provider does not run or have.
"""

from __future__ import annotations

import os
import re

import bpy

from ..farm.package import resolve
from ..farm.problems import ERROR, WARNING, Problem
from .script_checks import script_problems
from .trace import bake_slots, describe, node_trees, point_caches, used

BUILTIN_ENGINES = {"CYCLES", "BLENDER_EEVEE", "BLENDER_EEVEE_NEXT", "BLENDER_WORKBENCH"}
OLDEST_BLENDER = (4, 2)


def scene_problems(scene, frames: range, *, in_session: bool) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    if not bpy.data.filepath:
        add(Problem("unsaved", ERROR, None, "The scene has never been saved: save it as a .blend inside your project "
                    "folder, then submit."))
    elif in_session and bpy.data.is_dirty and not bpy.app.background:
        # Background Blender (and the bpy module) marks every opened file dirty, so only a UI session can tell.
        add(Problem("unsaved", ERROR, bpy.data.filepath, "The scene has unsaved changes and the farm packs the file "
                    "on disk: save it (Ctrl+S), then submit."))
    if len(frames) == 0 or scene.frame_end < scene.frame_start:
        add(Problem("frame_range", ERROR, None, f"The frame range {scene.frame_start}-{scene.frame_end} is empty: set "
                    "an end frame at or after the start frame."))
    problems += _output_problems(scene)
    problems += _cache_problems(frames)
    engine = scene.render.engine
    if engine not in BUILTIN_ENGINES:
        add(Problem("engine", ERROR, None, f"The render engine '{engine}' comes from an add-on providers may not have:"
                    " switch to Cycles, EEVEE or Workbench."))
    if engine == "CYCLES" and getattr(scene.cycles, "shading_system", False):
        add(Problem("feature", WARNING, None, "Open Shading Language is on: OSL renders on the CPU only and many "
                    "providers refuse scenes that run shader code; turn it off (Render > Open Shading Language) "
                    "unless a Script node needs it."))
    problems += script_problems(scene)
    saved_with = saved_version()
    if not bpy.data.filepath:
        pass  # nothing on disk yet: "unsaved" above says what to do
    elif saved_with > tuple(bpy.app.version)[:2]:
        add(Problem("blender_version", WARNING, bpy.data.filepath, f"The file was saved by Blender "
                    f"{'.'.join(map(str, saved_with))}, newer than this Blender {bpy.app.version_string}: pack it with "
                    "that version so nothing new is lost."))
    elif saved_with < OLDEST_BLENDER:
        add(Problem("blender_version", WARNING, bpy.data.filepath, f"The file was saved by Blender "
                    f"{'.'.join(map(str, saved_with))}; the farm renders with Blender 4.2 or newer, so check the "
                    "result of the first frames."))
    return problems


def saved_version() -> tuple[int, int]:
    """(major, minor) of the Blender that wrote the file on disk: its header says so (bpy.data.version
    keeps the version of what was loaded, the startup file's, until the file is re-opened)."""
    if bpy.data.filepath:
        try:
            with open(bpy.data.filepath, "rb") as f:
                match = re.match(rb"BLENDER(?:\d\d-\d\d)?[-_]?[vV](\d{3,4})", f.read(32))
        except OSError:
            match = None
        if match:
            number = int(match.group(1))
            return number // 100, number % 100
    return tuple(bpy.data.version)[:2]  # compressed file: what Blender read


def _output_problems(scene) -> list[Problem]:
    problems = []
    settings = scene.render.image_settings
    if settings.file_format == "FFMPEG" or getattr(settings, "media_type", "IMAGE") == "VIDEO":
        problems.append(Problem("movie_output", ERROR, scene.render.filepath, "The output is a movie file, but a farm "
                                "renders frames on many machines: choose PNG or OpenEXR in Output Properties and join "
                                "the frames afterwards."))
    path = scene.render.filepath
    if not path.startswith("//") or "#" not in os.path.basename(path):
        problems.append(Problem("output_path", WARNING, path or None, f"The output path '{path}' is "
                                f"{'not relative' if not path.startswith('//') else 'not frame-numbered'}: the farm "
                                "writes frames into its own folder; use a relative, numbered path such as "
                                "//frames/frame_####."))
    for tree, owner in node_trees():
        if tree.bl_idname != "CompositorNodeTree":
            continue
        for node in tree.nodes:
            if node.bl_idname == "CompositorNodeOutputFile" and not node.mute:
                target = getattr(node, "directory", None) or getattr(node, "base_path", "")
                problems.append(Problem("file_output", WARNING, target or None, f"{describe(owner)} > File Output "
                                        f"node '{node.name}' writes extra files that the farm does not send back: "
                                        "mute the node, or render those passes as the main output.",
                                        datablock=describe(owner)))
    return problems


def _needs_cache(ob, label: str, cache) -> bool:
    for psys in ob.particle_systems:
        if psys.point_cache == cache:
            settings = psys.settings
            return settings.type == "EMITTER" or (settings.type == "HAIR" and psys.use_hair_dynamics)
    return label.startswith("modifier") and "surface" not in label


def _cache_problems(frames: range) -> list[Problem]:
    problems = []
    for ob in bpy.data.objects:
        if not used(ob) or ob.library is not None:
            continue
        for label, cache in point_caches(ob):
            where = describe(ob, label)
            if not _needs_cache(ob, label, cache):
                continue
            if not cache.is_baked:
                problems.append(Problem("cache", ERROR, None, f"{where} is not baked: each frame renders in its own "
                                        "process, so the simulation would start over; bake it to disk (Physics > "
                                        "Cache > Disk Cache, Bake).", datablock=where))
            elif not (cache.use_disk_cache or cache.use_external):
                problems.append(Problem("cache", WARNING, None, f"{where} is baked into memory only: it travels inside "
                                        "the .blend, which makes every upload bigger; bake it to disk instead "
                                        "(Physics > Cache > Disk Cache).", datablock=where))
        for mod in ob.modifiers:
            where = describe(ob, f"modifier '{mod.name}'")
            if mod.type == "FLUID" and mod.fluid_type == "DOMAIN":
                settings = mod.domain_settings
                if not settings.has_cache_baked_any or settings.cache_type == "REPLAY":
                    problems.append(Problem("cache", ERROR, resolve(settings.cache_directory, os.path.dirname(
                        bpy.data.filepath)), f"{where}: the fluid simulation is not baked: set the cache type to "
                        "Modular or All and bake it.", datablock=where))
            elif mod.type == "NODES" and mod.node_group is not None and _has_simulation(mod.node_group):
                baked = {slot.ref.owner for slot in bake_slots(ob, mod)}
                for bake in mod.bakes:
                    node = getattr(bake, "node", None)
                    on_disk = any(o.endswith(f"bake {bake.bake_id}") for o in baked)
                    packed = getattr(bake, "bake_target", "") == "PACKED"
                    if node is not None and node.bl_idname == "GeometryNodeSimulationOutput" and not on_disk \
                            and not packed:
                        problems.append(Problem("cache", ERROR, None, f"{where}: simulation zone '{node.name}' is "
                                                "not baked: bake it (Physics > Simulation Nodes > Bake) so every "
                                                "frame renders the same on the farm.", datablock=where))
    return problems


def _has_simulation(tree, seen=None) -> bool:
    seen = seen if seen is not None else set()
    if tree.name_full in seen:
        return False
    seen.add(tree.name_full)
    for node in tree.nodes:
        if node.bl_idname == "GeometryNodeSimulationOutput":
            return True
        group = getattr(node, "node_tree", None)
        if group is not None and _has_simulation(group, seen):
            return True
    return False
