"""Pre-flight and pack the loaded scene (panel) or a .blend on disk (headless `pack`).

Plan: trace every path (trace.py), expand it to the files the chosen frames read, name each file's
place in the package, collect path problems beside the scene's (preflight.py). Pack: copy and hash
the files (farm/package_writer.py), then write copies of the main .blend and of every linked library
with their paths rewritten relative to the package. The copies are written by opening each original
and saving it elsewhere with `copy=True`, so no original is ever written. In the artist's session
(the panel) that happens in a child Blender, so the open scene is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import bpy

from ..farm import repack
from ..farm.hash_cache import HashCache
from ..farm.package import (
    Package,
    PackageError,
    Reference,
    blend_magic,
    expand,
    file_package_path,
    inside,
    is_relative,
    package_path,
    reference_root,
    relative_reference,
    resolve,
)
from ..farm.package_writer import PackageWriter, PlannedFile, Progress
from ..farm.problems import ERROR, WARNING, Problem, has_errors
from . import preflight, trace

_KIND_BY_ID = {"Image": "image", "MovieClip": "image", "Library": "library", "VectorFont": "font", "Sound": "sound",
               "Volume": "volume", "CacheFile": "cache"}


@dataclass
class Plan:
    blend: str  # the artist's .blend (absolute)
    project_root: str
    frames: range
    main_path: str  # package path of the main .blend copy
    files: list[PlannedFile] = field(default_factory=list)  # dependencies copied as they are
    libraries: list[PlannedFile] = field(default_factory=list)  # linked .blend files, copied with paths rewritten
    roots: dict[str, str] = field(default_factory=dict)  # reference path -> its package path
    references: list[Reference] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    requested_frames: tuple[int, int] | None = None  # --frames as given (None: the scene's range)
    probed: set[str] = field(default_factory=set)  # every path looked at, found or not (for farm/repack.py)
    listed: set[str] = field(default_factory=set)  # folders whose listing decided which files are read


@dataclass
class PackResult:
    plan: Plan
    package: Package | None  # None when an error blocked packing (nothing was written)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (the benchmark prints them)

    @property
    def problems(self) -> list[Problem]:
        return self.plan.problems

    def to_json(self) -> dict:
        """The `pack --json` object (the main .blend copy is not listed under files)."""
        files = [] if self.package is None else [
            {"source": f.source, "packed": f.path, "sha256": f.sha256, "size": f.size, "kind": f.kind}
            for f in self.package.dependencies]
        return {"blend": self.plan.blend, "package": self.package.root if self.package else None, "files": files,
                "problems": [p.to_json() for p in self.problems]}


def scene_frames(scene, frames: tuple[int, int] | None) -> range:
    first, last = frames if frames else (scene.frame_start, scene.frame_end)
    return range(first, last + 1)


def plan(*, project_root: str | None = None, frames: tuple[int, int] | None = None, in_session: bool = True) -> Plan:
    """Trace and pre-flight the loaded scene."""
    scene = bpy.context.scene
    blend = os.path.abspath(bpy.data.filepath) if bpy.data.filepath else ""
    root = os.path.abspath(project_root or (os.path.dirname(blend) if blend else os.getcwd()))
    chosen = scene_frames(scene, frames)
    result = Plan(blend=blend, project_root=root, frames=chosen, main_path=package_path(blend or "untitled.blend",
                                                                                           root),
                  requested_frames=frames)
    if blend:
        result.roots[blend] = result.main_path  # a library that links back to the main file (a cycle) gets the copy
    trace.reach_from_scene(scene)
    try:
        _trace_into(result, scene, chosen, in_session)
        result.probed |= trace.probed
    finally:
        trace.reach_everything()
    return result


def _trace_into(result: Plan, scene, chosen: range, in_session: bool) -> None:
    result.problems += preflight.scene_problems(scene, chosen, in_session=in_session)
    computed: list[trace.Computed] = []
    covered: set[str] = set()
    planned: dict[str, PlannedFile] = {}
    for slot in trace.iter_slots(chosen, computed):
        ref = slot.ref
        if ref.packed or not ref.raw:
            continue
        result.references.append(ref)
        covered.add(ref.path)
        _add_reference(result, ref, planned, covered)
    for id_block, raw in trace.blender_paths():  # Blender's own list: anything of a kind not traced above
        if not raw or not trace.used(id_block):
            continue
        path = resolve(raw, trace.base_dir(id_block))
        result.probed.add(path)
        if path in covered or not os.path.isfile(path):
            continue
        ref = Reference(kind=_KIND_BY_ID.get(type(id_block).__name__, "other"), owner=trace.describe(id_block),
                        raw=raw, path=path, linked=getattr(id_block, "library", None) is not None)
        result.references.append(ref)
        covered.add(path)
        _add_reference(result, ref, planned, covered)
    for c in computed:
        result.problems.append(Problem("computed", WARNING, None, f"{c.owner} reads a file whose path is computed by "
                                       "other nodes, so it cannot be traced and is not packed: type the path into "
                                       "the node, or make sure providers do not need it.", datablock=c.owner))
    by_path: dict[str, str] = {result.main_path: result.blend}
    for item in planned.values():
        if "\\" in item.path or any(ord(ch) < 32 for ch in item.path):
            result.problems.append(Problem("odd_name", ERROR, item.source, f"{item.source} has a backslash or a "
                                           "control character in its name, which other systems cannot hold: "
                                           "rename the file and point the data-block at the new name."))
        other = by_path.setdefault(item.path, item.source)
        if other != item.source:
            result.problems.append(Problem("collision", ERROR, item.source, f"{item.source} and {other} would both be "
                                           f"packed as {item.path}: rename one of them."))
        (result.libraries if item.kind == "library" else result.files).append(item)
    result.problems = list(dict.fromkeys(result.problems))  # one data-block can reach a path through several slots


def _add_reference(result: Plan, ref: Reference, planned: dict[str, PlannedFile], covered: set[str]) -> None:
    root = result.project_root
    existing, missing = expand(ref)
    result.probed.update(existing, missing, [ref.path])
    if ref.pattern in ("sequence", "udim"):
        result.listed.add(os.path.dirname(ref.path))  # a new frame or tile there may change what is read
    elif ref.pattern == "prefix":
        result.listed.add(ref.path)
    elif ref.pattern == "directory":
        result.listed.update(folder for folder, _dirs, _names in os.walk(ref.path))
    for path in missing:
        partial = ref.pattern in ("sequence", "udim") and existing
        result.problems.append(Problem("missing", WARNING if partial else ERROR, path, f"{ref.owner} uses {path}, "
                                       "which does not exist: find the file (File > External Data > Find Missing "
                                       "Files) or remove the data-block.", datablock=ref.owner))
    for path in existing:
        covered.add(path)
        problem = _unreadable(path, ref)
        if problem:
            result.problems.append(problem)
            continue
        planned.setdefault(path, PlannedFile(path, file_package_path(ref, path, root), ref.kind))
    if not existing:
        return
    result.roots[ref.path] = reference_root(ref, root)
    if not is_relative(ref.raw):
        result.problems.append(Problem("absolute", WARNING, ref.raw, f"{ref.owner} uses the absolute path {ref.raw}; "
                                       "packing makes it relative in the copy. Make it relative (File > External "
                                       "Data > Make Paths Relative) so the project moves in one piece.",
                                       datablock=ref.owner))
    if not inside(ref.path, root):
        result.problems.append(Problem("outside", WARNING, ref.path, f"{ref.owner} uses {ref.path}, outside the "
                                       f"project folder {root}; packing copies it to {result.roots[ref.path]}. "
                                       "Move it into the project to keep its place.", datablock=ref.owner))


def _unreadable(path: str, ref: Reference) -> Problem | None:
    try:
        st = os.stat(path)
    except OSError as e:
        return Problem("missing", ERROR, path, f"{ref.owner} uses {path}, which cannot be reached ({e.strerror}): fix "
                       "the path or the link it goes through.", datablock=ref.owner)
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        return Problem("not_a_file", ERROR, path, f"{ref.owner} points at {path}, which is {what}: point it at the "
                       "file itself.", datablock=ref.owner)
    if not os.access(path, os.R_OK):
        return Problem("unreadable", ERROR, path, f"{ref.owner} uses {path}, which this user cannot read: fix its "
                       "permissions.", datablock=ref.owner)
    return None


# ------------------------------------------------------------------------------------------ packing


def pack_loaded(out_dir: str, *, project_root: str | None = None, frames: tuple[int, int] | None = None,
                cache: HashCache | None = None, progress: Progress | None = None,
                in_session: bool = True) -> PackResult:
    """Pack the loaded scene. `in_session`: the artist's open scene (copies are written by a child Blender)."""
    started = time.perf_counter()
    the_plan = plan(project_root=project_root, frames=frames, in_session=in_session)
    timings = {"trace": time.perf_counter() - started}
    if has_errors(the_plan.problems):
        return PackResult(the_plan, None, timings)
    return write_planned(the_plan, out_dir, cache=cache, progress=progress, in_session=in_session,
                         blender_version=bpy.app.version_string, timings=timings)


def write_planned(the_plan: Plan, out_dir: str, *, cache: HashCache | None = None, progress: Progress | None = None,
                  in_session: bool = True, blender_version: str, timings: dict[str, float] | None = None) -> PackResult:
    """Copy, rewrite and commit a planned package. With `in_session` it reads no bpy data (the copies of the
    .blend files are written by a child Blender), so the panel runs it on its worker thread."""
    clock = [time.perf_counter()]
    timings = dict(timings or {})

    def lap(name: str) -> None:
        clock.append(time.perf_counter())
        timings[name] = clock[-1] - clock[-2]

    sources = [the_plan.blend, *(b.source for b in the_plan.libraries), *(f.source for f in the_plan.files)]
    try:
        before = repack.snapshot(sources, the_plan.probed, the_plan.listed, os.path.abspath(out_dir))
    except OSError:
        before = None  # a source vanished: the copy reports it; no record, so the next pack is a full one
    with PackageWriter(out_dir, cache) as writer:
        files = writer.copy(the_plan.files, progress)
        lap("copy_and_hash")
        frames_read = [the_plan.frames.start, the_plan.frames.stop - 1]
        keys, jobs = {}, []
        for source, path in [(the_plan.blend, the_plan.main_path), *((b.source, b.path) for b in the_plan.libraries)]:
            keys[path] = _rewrite_key(writer, source, path, the_plan.roots, frames_read, blender_version)
            if not writer.link_previous(path, keys[path]):
                jobs.append({"source": source, "target": writer.staged(path), "path": path})
        spec = {"jobs": jobs, "roots": the_plan.roots, "frames": frames_read}
        if jobs and in_session:
            _rewrite_in_child(spec)
        elif jobs:
            rewrite(spec)
        blends = [writer.add_written(the_plan.main_path, "blend", the_plan.blend)]
        blends += [writer.add_written(lib.path, "library", lib.source) for lib in the_plan.libraries]
        lap("blend_copies")
        inputs = None
        if before is not None:  # what a later re-pack checks to skip Blender (the staged files keep their stat)
            staged = Package(root=writer.stage, blend=the_plan.main_path, files=blends + files)
            hashes = {f.source: f.sha256 for f in files}
            hashes.update({s: writer.cache.plaintext_sha256(s).hex() for s in sources[:1 + len(the_plan.libraries)]})
            final = PackResult(the_plan, Package(root=writer.out, blend=the_plan.main_path, files=blends + files))
            inputs = repack.record(
                blend=the_plan.blend, project=the_plan.project_root, frames=the_plan.requested_frames, out=writer.out,
                before=before, hashes=hashes, package=staged, problems=the_plan.problems, result=final.to_json())
        package = writer.commit(the_plan.main_path, blends + files, blender_version=blender_version,
                                rewrite_keys=keys, inputs=inputs)
        lap("commit")
    return PackResult(the_plan, package, timings)


def _rewrite_key(writer: PackageWriter, source: str, path: str, roots: dict[str, str], frames: list[int],
                 blender_version: str) -> str:
    """What a .blend copy depends on: the original's bytes, where every path goes, the frames, this Blender."""
    parts = [writer.cache.plaintext_sha256(source).hex(), path, sorted(roots.items()), frames, blender_version]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def open_blend(path: str) -> None:
    """Open a .blend headless without running anything in it; PackageError if it is not a readable .blend."""
    if not os.path.isfile(path):
        raise PackageError(f"{path} does not exist or is not a file: give the path of a .blend")
    try:
        magic = blend_magic(path)
    except OSError as e:
        raise PackageError(f"cannot read {path}: {e.strerror}") from e
    if magic is None:
        raise PackageError(f"{path} is not a .blend file (it does not start like one): give the scene's .blend")
    bpy.context.preferences.filepaths.use_scripts_auto_execute = False
    try:
        with _stdout_to_stderr():
            bpy.ops.wm.open_mainfile(filepath=path, load_ui=False, use_scripts=False)
    except RuntimeError as e:
        raise PackageError(f"Blender cannot read {path} ({str(e).strip().splitlines()[-1]}): it may be truncated or "
                           "damaged; open it in Blender and save it again, or use a backup (.blend1)") from None
    if os.path.abspath(bpy.data.filepath) != os.path.abspath(path):
        raise PackageError(f"Blender could not open {path}: it may be truncated or damaged")


def pack_file(blend: str, out_dir: str, *, reuse: bool = True, **options) -> PackResult | repack.Reused:
    """Headless: open `blend` (scripts off) and pack it. The file is only read. With `reuse`, a previous package
    at `out_dir` whose inputs are all unchanged is returned as it is, without opening the file (farm/repack.py)."""
    if reuse:
        cache = options.get("cache")
        reused = repack.reuse(blend, out_dir, project=options.get("project_root"), frames=options.get("frames"),
                              hash_file=(lambda p: cache.plaintext_sha256(p).hex()) if cache else None)
        if reused is not None:
            return reused
    open_blend(os.path.abspath(blend))
    return pack_loaded(out_dir, in_session=False, **options)


# ---------------------------------------------------------------------------------------- rewriting


def rewrite(spec: dict) -> None:
    """Open each original .blend and save a copy whose traced paths point into the package.

    Replaces the loaded file: only for a headless process (the CLI, or the child of the panel).
    """
    roots: dict[str, str] = spec["roots"]
    frames = range(spec["frames"][0], spec["frames"][1] + 1)
    for job in spec["jobs"]:
        if os.path.abspath(bpy.data.filepath or "") != os.path.abspath(job["source"]):
            open_blend(job["source"])
        # Setting a Script node's path makes the scene's engine compile it, and Cycles writes the .oso beside
        # the artist's .osl; Workbench compiles nothing. The engine is restored before the copy is saved.
        scene = bpy.context.scene
        engine, scene.render.engine = scene.render.engine, "BLENDER_WORKBENCH"
        try:
            for slot in trace.iter_slots(frames):
                if slot.set is not None and slot.ref.path in roots:
                    slot.set(roots[slot.ref.path], job["path"])
        finally:
            scene.render.engine = engine
        foreach = getattr(bpy.data, "file_path_foreach", None)
        if foreach is not None:
            def visit(id_block, raw, _meta, job=job):
                path = resolve(raw, trace.base_dir(id_block)) if raw else ""
                if path in roots and getattr(id_block, "library", None) is None:
                    return relative_reference(roots[path], job["path"])
                return None

            foreach(visit)
        compress = blend_magic(job["source"]) != "plain"
        with _stdout_to_stderr():
            bpy.ops.wm.save_as_mainfile(filepath=job["target"], copy=True, relative_remap=False, compress=compress,
                                        check_existing=False)


def _child_command(code: str, argument: str) -> list[str]:
    if bpy.app.binary_path:  # inside Blender: a background Blender without the user's startup file or add-ons
        return [bpy.app.binary_path, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", code,
                "--", argument]
    return [sys.executable, "-c", code, argument]  # the bpy wheel: this Python imports bpy


def _rewrite_in_child(spec: dict) -> None:
    # The add-on's folder ("addon" here, ".../extensions/user_default/render_farm" in Blender) is imported in the
    # child by its folder name from its parent folder: an extension's "bl_ext.…" name only exists in a session.
    # This process's module path is appended, so the add-on's bundled wheels (imported by its blender package)
    # are found in a child started with --factory-startup.
    folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    module = os.path.basename(folder) + ".blender.pack"
    extra = [p for p in sys.path if p]
    code = (f"import sys, json; sys.path.insert(0, {os.path.dirname(folder)!r}); sys.path += {extra!r}; "
            f"import importlib; importlib.import_module({module!r}).rewrite(json.loads(sys.argv[-1]))")
    result = subprocess.run(_child_command(code, json.dumps(spec)), capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise PackageError("writing the package's .blend copies failed: " + " | ".join(tail))


@contextmanager
def _stdout_to_stderr():
    """Blender prints to the process's stdout; keep it off ours so `--json` output stays one JSON object."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
