"""Every path the loaded .blend stores, as bpy-free References, each with a way to rewrite it.

Works on whatever bpy.data holds (the artist's open scene, or a file opened headless), linked
libraries included: Blender loads what the scene links, recursively, so the linked images, fonts and
node trees of a library linked from a library are in bpy.data with `.library` set, and their paths
resolve against that library's folder. Only data-blocks the rendered scene reaches count (Blender's user
map from the scene, transitively): a texture of an unused material, a fake-user asset or an orphan node group
is not shipped. On Blender 5.0+ `bpy.data.file_path_foreach` (Blender's own
list of every file path) is walked afterwards, so a path of a kind this module does not know is still
shipped, as "other".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import bpy

from ..farm.package import Reference, image_user_frame, is_udim_pattern, relative_reference, resolve, volume_frame

# Setter(new package path of the reference's path, package path of the .blend being written).
Setter = Callable[[str, str], None]

IMPORT_NODES = {
    "GeometryNodeImportOBJ": "other", "GeometryNodeImportPLY": "other", "GeometryNodeImportSTL": "other",
    "GeometryNodeImportCSV": "other", "GeometryNodeImportText": "other", "GeometryNodeImportVDB": "volume",
}


@dataclass
class Slot:
    ref: Reference
    set: Setter | None  # None when the path is not ours to rewrite (linked data, computed paths)


@dataclass
class Computed:
    """A path Blender computes while evaluating (a node socket fed by other nodes): cannot be traced."""

    owner: str


def main_dir() -> str:
    return os.path.dirname(bpy.path.abspath("//")) if bpy.data.filepath else os.getcwd()


def base_dir(id_block) -> str:
    library = getattr(id_block, "library", None)
    if library is not None:
        return os.path.dirname(bpy.path.abspath(library.filepath))
    return main_dir()


# What the render reaches: set by `reach_from_scene()` (the trace of a scene) or None (every data-block counts:
# rewriting a copy must reach every path, whatever the file's own scene uses).
_reachable: set | None = None


def reachable_from(scene) -> set:
    """Every data-block the scene points at, transitively (Blender's user map, inverted), and the libraries
    holding the linked ones. A fake user, an unused material or a node group nobody instances is not in it."""
    uses: dict = {}
    for id_block, users in bpy.data.user_map().items():
        for user in users:
            uses.setdefault(user, set()).add(id_block)
    seen, todo = set(), [scene]
    while todo:
        item = todo.pop()
        if item not in seen:
            seen.add(item)
            todo.extend(uses.get(item, ()))
    for item in list(seen):
        library = getattr(item, "library", None)
        while library is not None and library not in seen:
            seen.add(library)
            library = library.parent
    return seen


# Folders the trace looked for and did not find (bake folders): a re-pack must look again (farm/repack.py).
probed: set[str] = set()


def reach_from_scene(scene) -> None:
    global _reachable
    _reachable = reachable_from(scene)
    probed.clear()


def reach_everything() -> None:
    global _reachable
    _reachable = None


def used(id_block) -> bool:
    if _reachable is not None:
        return id_block in _reachable
    return True


def reached_ids() -> list:
    """The data-blocks the render reaches (every one when no scene is being traced), in a stable order."""
    ids = _reachable if _reachable is not None else set(bpy.data.user_map())
    return sorted(ids, key=lambda i: (type(i).__name__, i.name_full))


def describe(id_block, extra: str = "") -> str:
    kind = type(id_block).__name__
    name = f"{kind} '{id_block.name}'"
    if getattr(id_block, "library", None) is not None:
        name += f" (from {id_block.library.filepath})"
    return name + (f" > {extra}" if extra else "")


def _plain_setter(obj, attr: str) -> Setter:
    def set_path(new_root: str, blend_path: str) -> None:
        setattr(obj, attr, relative_reference(new_root, blend_path))

    return set_path


def _slot(kind, id_block, raw, *, owner=None, pattern="file", frames=(), tiles=(), prefix="", packed=False,
          setter: Setter | None = None, base: str | None = None, path: str | None = None) -> Slot:
    linked = getattr(id_block, "library", None) is not None
    ref = Reference(kind=kind, owner=owner or describe(id_block), raw=raw,
                    path=path or resolve(raw, base or base_dir(id_block)), pattern=pattern, frames=tuple(frames),
                    tiles=tuple(tiles), prefix=prefix, packed=packed, linked=linked)
    return Slot(ref, None if linked else setter)


# -------------------------------------------------------------------------------------- node trees


def node_trees() -> Iterator[tuple[object, object]]:
    """(node tree, the ID that owns it) for every tree: node groups and the trees embedded in IDs."""
    for tree in bpy.data.node_groups:
        if used(tree):
            yield tree, tree
    for collection in (bpy.data.materials, bpy.data.worlds, bpy.data.lights, bpy.data.textures, bpy.data.scenes,
                       bpy.data.linestyles):
        for owner in collection:
            tree = getattr(owner, "node_tree", None)
            if tree is not None and used(owner):
                yield tree, owner


def image_users() -> dict[str, list[object]]:
    """Image name_full -> the ImageUser settings that read it (they decide which sequence frames)."""
    users: dict[str, list[object]] = {}
    for tree, _owner in node_trees():
        for node in tree.nodes:
            image, user = getattr(node, "image", None), getattr(node, "image_user", None)
            if image is not None and user is not None:
                users.setdefault(image.name_full, []).append(user)
    for ob in bpy.data.objects:
        if ob.type == "EMPTY" and ob.data is not None and getattr(ob, "image_user", None) is not None:
            users.setdefault(ob.data.name_full, []).append(ob.image_user)
    for tex in bpy.data.textures:
        if getattr(tex, "image", None) is not None and getattr(tex, "image_user", None) is not None:
            users.setdefault(tex.image.name_full, []).append(tex.image_user)
    return users


def _sequence_frames(users, frames: range) -> set[int]:
    return {image_user_frame(f, start=u.frame_start, duration=u.frame_duration, offset=u.frame_offset,
                             cyclic=u.use_cyclic) for u in users for f in frames}


# ----------------------------------------------------------------------------------------- slots


def iter_slots(frames: range, computed: list[Computed] | None = None) -> Iterator[Slot]:
    """Every file path of the loaded data, in a stable order. Computed paths are appended to `computed`."""
    computed = computed if computed is not None else []
    for lib in bpy.data.libraries:
        if not used(lib):
            continue
        yield _slot("library", lib, lib.filepath, base=main_dir(), packed=lib.packed_file is not None,
                    setter=_plain_setter(lib, "filepath"), owner=f"Library '{lib.name}'")
    yield from _images(frames)
    for font in bpy.data.fonts:
        if font.filepath != "<builtin>" and used(font):
            yield _slot("font", font, font.filepath, packed=font.packed_file is not None,
                        setter=_plain_setter(font, "filepath"))
    for sound in bpy.data.sounds:
        if used(sound):
            yield _slot("sound", sound, sound.filepath, packed=sound.packed_file is not None,
                        setter=_plain_setter(sound, "filepath"))
    for volume in bpy.data.volumes:
        if not used(volume):
            continue
        if volume.is_sequence:
            wanted = {volume_frame(f, start=volume.frame_start, duration=volume.frame_duration,
                                   offset=volume.frame_offset, mode=volume.sequence_mode) for f in frames}
            yield _slot("volume", volume, volume.filepath, pattern="sequence", frames=sorted(wanted - {None}),
                        packed=volume.packed_file is not None, setter=_plain_setter(volume, "filepath"))
        else:
            yield _slot("volume", volume, volume.filepath, packed=volume.packed_file is not None,
                        setter=_plain_setter(volume, "filepath"))
    for cache in bpy.data.cache_files:
        if used(cache):
            yield _slot("cache", cache, cache.filepath, pattern="sequence" if cache.is_sequence else "file",
                        setter=_plain_setter(cache, "filepath"))
    for clip in bpy.data.movieclips:
        if used(clip):
            yield _slot("image", clip, clip.filepath, pattern="sequence" if clip.source == "SEQUENCE" else "file",
                        setter=_plain_setter(clip, "filepath"))
    yield from _node_slots(computed)
    yield from _object_slots(frames)
    yield from _sequencer_slots(frames)


def _images(frames: range) -> Iterator[Slot]:
    users = None
    for image in bpy.data.images:
        if image.source not in ("FILE", "SEQUENCE", "MOVIE", "TILED") or not used(image):
            continue
        packed = bool(image.packed_files) or image.packed_file is not None
        setter = _plain_setter(image, "filepath")
        if image.source == "SEQUENCE" and not packed:
            users = image_users() if users is None else users
            wanted = _sequence_frames(users.get(image.name_full, []), frames)
            yield _slot("image", image, image.filepath, pattern="sequence", frames=sorted(wanted), setter=setter)
        elif image.source == "TILED" and is_udim_pattern(image.filepath) and not packed:
            yield _slot("image", image, image.filepath, pattern="udim", tiles=[t.number for t in image.tiles],
                        setter=setter)
        else:
            yield _slot("image", image, image.filepath, packed=packed, setter=setter)


def _node_slots(computed: list[Computed]) -> Iterator[Slot]:
    for tree, owner in node_trees():
        base = base_dir(owner)
        for node in tree.nodes:
            where = f"{describe(owner)} > node '{node.name}'"
            kind = {"ShaderNodeTexIES": "ies", "ShaderNodeScript": "script"}.get(node.bl_idname)
            if kind and node.mode == "EXTERNAL":
                yield _slot(kind, owner, node.filepath, owner=where, base=base, setter=_plain_setter(node, "filepath"))
            elif node.bl_idname in IMPORT_NODES:
                socket = node.inputs.get("Path") or node.inputs[0]
                if socket.is_linked:
                    computed.append(Computed(where))
                elif socket.default_value:
                    yield _slot(IMPORT_NODES[node.bl_idname], owner, socket.default_value, owner=where, base=base,
                                setter=_plain_setter(socket, "default_value"))


def point_caches(ob) -> Iterator[tuple[str, object]]:
    for psys in ob.particle_systems:
        yield f"particle system '{psys.name}'", psys.point_cache
    for mod in ob.modifiers:
        cache = getattr(mod, "point_cache", None)
        if cache is not None:
            yield f"modifier '{mod.name}'", cache
        if mod.type == "DYNAMIC_PAINT" and mod.canvas_settings is not None:
            for surface in mod.canvas_settings.canvas_surfaces:
                yield f"modifier '{mod.name}' > surface '{surface.name}'", surface.point_cache


def point_cache_ref_args(ob, cache) -> dict:
    """Where Blender keeps a disk point cache (ptcache_path/ptcache_filepath in pointcache.cc)."""
    if cache.use_external:
        return {"raw": cache.filepath, "prefix": cache.name}
    stem = os.path.splitext(os.path.basename(bpy.data.filepath))[0]
    name = cache.name or "".join(f"{b:02X}" for b in ob.name.encode("utf-8"))
    return {"raw": f"//blendcache_{stem}", "prefix": name}


def _object_slots(frames: range) -> Iterator[Slot]:
    for ob in bpy.data.objects:
        if not used(ob):
            continue
        for label, cache in point_caches(ob):
            if cache.use_disk_cache or cache.use_external:
                args = point_cache_ref_args(ob, cache)
                setter = _plain_setter(cache, "filepath") if cache.use_external else None
                yield _slot("cache", ob, args["raw"], owner=describe(ob, label), pattern="prefix",
                            prefix=args["prefix"], frames=(frames.start, frames.stop - 1), setter=setter)
        for mod in ob.modifiers:
            if mod.type == "NODES":
                yield from bake_slots(ob, mod)
            elif mod.type == "FLUID" and mod.fluid_type == "DOMAIN" and mod.domain_settings.has_cache_baked_any:
                yield _slot("cache", ob, mod.domain_settings.cache_directory, pattern="directory",
                            owner=describe(ob, f"modifier '{mod.name}'"),
                            setter=_plain_setter(mod.domain_settings, "cache_directory"))


def bake_slots(ob, mod) -> Iterator[Slot]:
    for bake in mod.bakes:
        if getattr(bake, "bake_target", "DISK") == "PACKED" or (
                getattr(bake, "bake_target", "") == "INHERIT" and getattr(mod, "bake_target", "DISK") == "PACKED"):
            continue
        owner = describe(ob, f"modifier '{mod.name}' > bake {bake.bake_id}")
        if bake.use_custom_path:
            raw = bake.directory
            setter = _plain_setter(bake, "directory")
        else:
            raw = mod.bake_directory.rstrip("/\\") + f"/{bake.bake_id}" if mod.bake_directory else ""
            setter = _parent_setter(mod, "bake_directory")
        folder = resolve(raw, base_dir(ob)) if raw else ""
        if folder:
            probed.add(folder)
        if folder and os.path.isdir(folder):
            yield _slot("bake", ob, raw, owner=owner, pattern="directory", setter=setter)


def _parent_setter(obj, attr: str, suffix: str = "") -> Setter:
    """Rewrites a folder attribute from the new place of a file (or bake folder) inside it."""

    def set_path(new_root: str, blend_path: str) -> None:
        setattr(obj, attr, relative_reference(new_root.rpartition("/")[0] or ".", blend_path) + suffix)

    return set_path


def sequencer_strips(scene) -> list:
    editor = scene.sequence_editor
    if editor is None:
        return []
    return list(getattr(editor, "strips_all", None) or getattr(editor, "sequences_all", []))


def _sequencer_slots(frames: range) -> Iterator[Slot]:
    for scene in bpy.data.scenes:
        if not used(scene):
            continue
        for strip in sequencer_strips(scene):
            owner = describe(scene, f"strip '{strip.name}'")
            if strip.type == "MOVIE":
                yield _slot("image", scene, strip.filepath, owner=owner, setter=_plain_setter(strip, "filepath"))
            elif strip.type == "IMAGE" and len(strip.elements):
                # One element per frame from frame_start; only the frames shown inside the trimmed strip.
                shown = [f for f in frames if strip.frame_final_start <= f < strip.frame_final_end]
                indices = sorted({min(max(f - int(strip.frame_start), 0), len(strip.elements) - 1) for f in shown})
                for name in [strip.elements[i].filename for i in indices]:
                    raw = strip.directory.rstrip("/\\") + "/" + name
                    yield _slot("image", scene, raw, owner=owner, setter=_parent_setter(strip, "directory", "/"))


# Data-block types whose every path iter_slots already reads, frame by frame where frames matter; Blender's own
# list would add what those frames do not read (every element of an image strip), so it is not asked about them.
TRACED_ID_TYPES = {"Library", "Image", "VectorFont", "Sound", "Volume", "CacheFile", "MovieClip", "Scene"}


def blender_paths() -> list[tuple[object, str]]:
    """Blender's own list of (ID, path) for the other data-block types (5.0+: file_path_foreach), else []."""
    foreach = getattr(bpy.data, "file_path_foreach", None)
    if foreach is None:
        return []
    found: list[tuple[object, str]] = []
    foreach(lambda id_block, path, _meta: None if type(id_block).__name__ in TRACED_ID_TYPES
            else found.append((id_block, path)))
    return found
