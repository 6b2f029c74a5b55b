"""Re-pack without Blender when nothing the previous pack read has changed (bpy-free).

A pack leaves in its manifest a record of everything its result depends on: the main .blend's, every
library's and every copied file's (size, mtime, ctime, sha256), every path the trace probed and found
missing, the listing of every folder whose contents decide what is read (sequences, UDIM tiles, bake and
cache folders, and the nearest existing folder above a missing path), the package's own files, the
options, and which Blender and which add-on code packed it. `reuse()` checks that record with `stat`
(hashing only a file whose stat moved, listing only a folder whose mtime moved): when all holds, the
package on disk is what a full pack would write again, so its result is returned without importing bpy
(which costs about a second per run). Anything else returns None and the caller packs in full.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
import sys
from dataclasses import asdict, dataclass

from .hashing import sha256_file
from .package import MANIFEST_NAME, Package
from .problems import Problem

VERSION = 1
ADDON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def packer_identity() -> list:
    """Which Blender and which add-on code pack: a new bpy wheel or an edited tracer means a full pack."""
    spec = importlib.util.find_spec("bpy")
    blender = spec.origin if spec and spec.origin and os.path.isfile(spec.origin) else sys.executable
    code = hashlib.sha256()
    for folder, dirs, names in os.walk(ADDON_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(n for n in names if n.endswith(".py")):
            st = os.stat(os.path.join(folder, name))
            code.update(f"{os.path.relpath(os.path.join(folder, name), ADDON_DIR)}|{st.st_size}|{st.st_mtime_ns}\n"
                        .encode("utf-8", "surrogateescape"))
    st = os.stat(blender)
    return [blender, st.st_size, st.st_mtime_ns, code.hexdigest()]


def _listing(folder: str, out: str) -> str:
    """Digest of a folder's names, leaving out the package being written and its staging folders."""
    names = os.listdir(folder)
    if os.path.dirname(out) == folder:
        own = os.path.basename(out)
        names = [n for n in names if n != own and not n.startswith(f".{own}.")]
    return hashlib.sha256("\0".join(sorted(names)).encode("utf-8", "surrogateescape")).hexdigest()


def _existing_ancestor(path: str) -> str:
    folder = os.path.dirname(path)
    while folder and not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def snapshot(inputs, probed, listed, out: str) -> dict:
    """Taken after the trace and before any file is read: each input's (size, mtime_ns, ctime_ns), the probed
    paths that are missing, and the listing of each folder that decided what is read (and of the nearest
    existing folder above each missing path). A change while packing then shows at the next re-pack."""
    stats = {}
    for path in inputs:
        st = os.stat(path)
        stats[path] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    absent = sorted({p for p in probed if not os.path.lexists(p)})
    folders = {f for f in {*listed, *(_existing_ancestor(p) for p in absent)} if f and os.path.isdir(f)}
    return {"inputs": stats, "absent": absent,
            "folders": {f: [os.stat(f).st_mtime_ns, _listing(f, out)] for f in sorted(folders)}}


def record(*, blend: str, project: str, frames, out: str, before: dict, hashes: dict[str, str], package: Package,
           problems: list[Problem], result: dict) -> dict:
    """What `reuse()` checks next time: `before` from snapshot(), `hashes` the inputs' sha256 hex, `package` the
    written package (its files keep their stat when the staging folder is renamed into place)."""
    outputs = {}
    for entry in package.files:
        st = os.stat(package.absolute(entry))
        outputs[entry.path] = [st.st_size, st.st_mtime_ns]
    return {"version": VERSION, "packer": packer_identity(), "blend": blend, "project": project,
            "frames": list(frames) if frames else None, "out": out,
            "inputs": {p: [*s, hashes[p]] for p, s in before["inputs"].items()}, "absent": before["absent"],
            "folders": before["folders"], "outputs": outputs, "problems": [asdict(p) for p in problems],
            "result": result}


@dataclass
class Reused:
    """The previous pack's result, still true: quacks like blender.pack.PackResult for the CLI."""

    package: Package
    problems: list[Problem]
    result: dict

    def to_json(self) -> dict:
        return self.result


def reuse(blend: str, out: str, *, project: str | None = None, frames=None, hash_file=None) -> Reused | None:
    """The previous package at `out` if nothing its pack read has changed, else None. `hash_file(path) -> hex`
    hashes a file whose stat moved (default: read it)."""
    blend, out = os.path.abspath(blend), os.path.abspath(out)
    project = os.path.abspath(project) if project else os.path.dirname(blend)
    try:
        with open(os.path.join(out, MANIFEST_NAME), encoding="utf-8") as f:
            manifest = json.load(f)
        rec = manifest.get("inputs") or {}
        if rec.get("version") != VERSION or [rec.get("blend"), rec.get("project"), rec.get("out"), rec.get(
                "frames")] != [blend, project, out, list(frames) if frames else None]:
            return None
        if rec.get("packer") != packer_identity():
            return None
        moved = _inputs_hold(rec["inputs"], hash_file)
        if moved is None or any(os.path.lexists(p) for p in rec["absent"]):
            return None
        for folder, (mtime, digest) in rec["folders"].items():
            if os.stat(folder).st_mtime_ns != mtime and _listing(folder, out) != digest:
                return None
        package = Package.from_json(manifest)
        package.root = out
        for entry in package.files:
            st = os.stat(package.absolute(entry))
            if [st.st_size, st.st_mtime_ns] != rec["outputs"].get(entry.path):
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if moved:  # touched but the same bytes: remember the new stat so the next run need not hash them
        rec["inputs"].update(moved)
        package.inputs = rec
        package.save_manifest()
    return Reused(package, [Problem(**p) for p in rec["problems"]], rec["result"])


def _inputs_hold(inputs: dict, hash_file) -> dict | None:
    """None if an input changed; else the inputs whose stat moved with the same bytes, with their new stat."""
    moved = {}
    for path, (size, mtime, ctime, digest) in inputs.items():
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return None
        if (st.st_mtime_ns, st.st_ctime_ns) != (mtime, ctime):
            if (hash_file(path) if hash_file else sha256_file(path).hex()) != digest:
                return None
            moved[path] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest]
    return moved
