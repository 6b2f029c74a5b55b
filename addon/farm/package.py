"""The package a scene travels in, and the bpy-free half of tracing and packing.

Blender hands us raw path strings ("//tex/wood.png", "/abs/seq/f_0001.exr", "<UDIM>" patterns) and
frame settings; everything from there is plain Python, unit-tested without Blender: resolving paths
the way Blender does, expanding image/volume sequences to exactly the frames a range reads, UDIM
tiles, naming files from outside the project inside the package, and the manifest that the upload
uses (package path, sha256, size).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Kinds a packed file can have ("blend" is the main .blend copy; it is not listed under `files` in
# the `pack --json` output but is part of the package the upload sends).
KINDS = ("blend", "image", "library", "font", "sound", "volume", "cache", "bake", "ies", "script", "other")
MANIFEST_NAME = ".farm-package.json"  # written at the package root; marks a directory as a package
EXTERNAL_DIR = "_external"  # files from outside the project are relocated under here


class PackageError(RuntimeError):
    """Packing cannot go on (bad input or an output that would lose something); the message says what to do."""


# ---------------------------------------------------------------------------------------------- paths


def resolve(raw: str, base_dir: str) -> str:
    """An absolute, normalised path for a Blender path string; "//" is relative to the .blend in base_dir."""
    if raw.startswith("//"):
        rest = raw[2:].replace("\\", "/")  # files saved on Windows keep backslashes in relative paths
        return os.path.normpath(os.path.join(base_dir, rest))
    return os.path.normpath(os.path.abspath(raw))


def is_relative(raw: str) -> bool:
    return raw.startswith("//")


def inside(path: str, root: str) -> bool:
    rel = os.path.relpath(path, root)
    return rel != ".." and not rel.startswith(".." + os.sep) and not os.path.isabs(rel)


def package_path(source: str, project_root: str) -> str:
    """Where a source file goes in the package: its place in the project, or a stable external name.

    A file outside the project goes to `_external/<12 hex of sha256(its directory)>/<name>`: the same
    directory always gets the same name (so re-packs and sequences stay together) and two directories
    holding files of the same name never collide.
    """
    if inside(source, project_root):
        return os.path.relpath(source, project_root).replace(os.sep, "/")
    folder = hashlib.sha256(os.path.dirname(source).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{EXTERNAL_DIR}/{folder}/{os.path.basename(source)}"


def relative_reference(target_package_path: str, from_blend_package_path: str) -> str:
    """The "//"-relative path a .blend at one package path uses to reach a file at another."""
    start = os.path.dirname(from_blend_package_path) or "."
    return "//" + os.path.relpath(target_package_path, start).replace(os.sep, "/")


# ------------------------------------------------------------------------------ sequences and tiles

_LAST_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def sequence_file(path: str, frame: int) -> str:
    """The file of `frame` in the sequence whose first file is `path` (Blender numbers by the last digits)."""
    head, tail = os.path.split(path)
    stem, ext = os.path.splitext(tail)
    match = _LAST_DIGITS.search(stem)
    if not match:
        return path
    digits = match.group(1)
    number = str(frame).zfill(len(digits)) if frame >= 0 else "-" + str(-frame).zfill(len(digits))
    return os.path.join(head, stem[: match.start()] + number + stem[match.end():] + ext)


def sequence_members(path: str) -> list[str]:
    """Every existing file of the sequence `path` belongs to (same prefix, suffix and digit count)."""
    head, tail = os.path.split(path)
    stem, ext = os.path.splitext(tail)
    match = _LAST_DIGITS.search(stem)
    if not match or not os.path.isdir(head or "."):
        return [path] if os.path.exists(path) else []
    pattern = re.compile(
        re.escape(stem[: match.start()]) + rf"-?\d{{{len(match.group(1))},}}" + re.escape(stem[match.end():] + ext)
        + "$"
    )
    return sorted(os.path.join(head, name) for name in os.listdir(head or ".") if pattern.match(name))


def image_user_frame(scene_frame: int, *, start: int, duration: int, offset: int, cyclic: bool) -> int:
    """The image frame an image user reads at a scene frame (Blender's BKE_image_user_frame_get)."""
    if duration <= 0:
        return 0
    frame = scene_frame - start + 1
    if cyclic:
        frame %= duration
        if frame == 0:
            frame = duration
    frame = max(0, min(frame, duration))
    return frame + offset


def volume_frame(scene_frame: int, *, start: int, duration: int, offset: int, mode: str) -> int | None:
    """The file frame a volume sequence reads at a scene frame, None if none (Blender's BKE_volume_sequence_frame)."""
    if duration <= 0:
        return None
    frame = scene_frame - start + 1
    if mode == "CLIP":
        if frame < 1 or frame > duration:
            return None
    elif mode == "EXTEND":
        frame = max(1, min(frame, duration))
    elif mode == "REPEAT":
        frame %= duration
        if frame == 0:
            frame = duration
    elif mode == "PING_PONG":
        period = max(1, duration * 2 - 2)
        frame %= period
        if frame == 0:
            frame = period
        if frame > duration:
            frame = duration * 2 - frame
    return frame + offset


def udim_file(pattern: str, tile: int) -> str:
    """The file of one UDIM tile: `<UDIM>` becomes 1001…, `<UVTILE>` becomes u1_v1…"""
    u, v = (tile - 1001) % 10, (tile - 1001) // 10
    return pattern.replace("<UDIM>", str(tile)).replace("<UVTILE>", f"u{u + 1}_v{v + 1}")


def is_udim_pattern(path: str) -> bool:
    return "<UDIM>" in path or "<UVTILE>" in path


def parse_frames(text: str) -> tuple[int, int]:
    """"A-B" or "A" to an inclusive (first, last) range."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text or "")
    if not match:
        raise PackageError(f"frames {text!r} are not a range: write A-B (for example 1-24) or one frame")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if last < first:
        raise PackageError(f"frame range {text!r} is empty: the last frame must not come before the first")
    return first, last


# ------------------------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class PackageFile:
    path: str  # relative to the package root, "/" separators
    sha256: str  # hex
    size: int
    kind: str  # one of KINDS
    source: str  # absolute path that was read (for the main blend: the artist's file)

    @property
    def is_main(self) -> bool:
        return self.kind == "blend"


@dataclass
class Package:
    root: str  # absolute package directory
    blend: str  # package path of the main .blend copy
    files: list[PackageFile] = field(default_factory=list)  # every file, the main .blend copy included
    blender_version: str = ""  # the Blender that packed it: providers need this version or a newer one
    # Package path of each .blend copy -> the key of what it was rewritten from (source hash, path map, Blender):
    # a re-pack with the same key reuses the copy instead of opening and saving the original again.
    rewrite_keys: dict[str, str] = field(default_factory=dict)
    # What the pack read and found (farm/repack.py): a re-pack with all of it unchanged needs no Blender.
    inputs: dict = field(default_factory=dict)

    @property
    def main(self) -> PackageFile:
        return next(f for f in self.files if f.path == self.blend)

    @property
    def dependencies(self) -> list[PackageFile]:
        return [f for f in self.files if f.path != self.blend]

    def absolute(self, entry: PackageFile) -> str:
        return os.path.join(self.root, *entry.path.split("/"))

    def file_map(self) -> dict[str, Path]:
        """Package path -> file on disk for every file, the main .blend included (what the upload sends)."""
        return {f.path: Path(self.absolute(f)) for f in self.files}

    def to_json(self) -> dict:
        return {"root": self.root, "blend": self.blend, "blender_version": self.blender_version,
                "rewrite_keys": self.rewrite_keys, "files": [asdict(f) for f in self.files], "inputs": self.inputs}

    @classmethod
    def from_json(cls, data: dict) -> Package:
        files = [PackageFile(**{k: f[k] for k in ("path", "sha256", "size", "kind", "source")}) for f in data["files"]]
        return cls(root=data["root"], blend=data["blend"], files=files,
                   blender_version=data.get("blender_version", ""), rewrite_keys=dict(data.get("rewrite_keys", {})),
                   inputs=dict(data.get("inputs") or {}))

    def save_manifest(self) -> None:
        target = os.path.join(self.root, MANIFEST_NAME)
        with open(target + ".tmp", "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, separators=(",", ":"))  # compact: it is read by code, and written every pack
        os.replace(target + ".tmp", target)

    @classmethod
    def load(cls, root: str) -> Package:
        with open(os.path.join(root, MANIFEST_NAME), encoding="utf-8") as f:
            package = cls.from_json(json.load(f))
        package.root = os.path.abspath(root)
        return package


# -------------------------------------------------------------------------------- traced references


@dataclass
class Reference:
    """One path a .blend stores, resolved, with what of it a render of the chosen frames reads.

    `pattern` says how the path expands to files: "file" (the path itself), "sequence" (the frames in
    `frames`, or every member when `frames` is empty), "udim" (the `tiles`), "directory" (everything
    under it: geometry-node bakes, fluid caches), "prefix" (point cache files named `prefix`_FRAME…
    in the directory, limited to `frames` and their nearest neighbours).
    """

    kind: str
    owner: str  # the data-block, as the artist sees it ("Image 'wood'", "Object 'Cube' > modifier 'Bake'")
    raw: str  # the path as stored
    path: str  # resolved absolute path (first file of a sequence, the pattern, the directory)
    pattern: str = "file"
    frames: tuple[int, ...] = ()
    tiles: tuple[int, ...] = ()
    prefix: str = ""
    packed: bool = False  # stored inside the .blend: nothing to ship
    linked: bool = False  # held by a linked library rather than the main file


_CACHE_FILE = re.compile(r"_(\d{6})(?:_\d{2})?\.\w+$")


def expand(ref: Reference) -> tuple[list[str], list[str]]:
    """(existing files the render reads, files it reads that are missing)."""
    if ref.packed:
        return [], []
    if ref.pattern == "file":
        return ([ref.path], []) if os.path.lexists(ref.path) else ([], [ref.path])
    if ref.pattern == "sequence":
        if not ref.frames:
            members = sequence_members(ref.path)
            return (members, []) if members else ([], [ref.path])
        wanted = sorted({sequence_file(ref.path, f) for f in ref.frames})
        return [p for p in wanted if os.path.lexists(p)], [p for p in wanted if not os.path.lexists(p)]
    if ref.pattern == "udim":
        wanted = [udim_file(ref.path, t) for t in (ref.tiles or (1001,))]
        return [p for p in wanted if os.path.lexists(p)], [p for p in wanted if not os.path.lexists(p)]
    if not os.path.isdir(ref.path):
        return [], [ref.path]
    if ref.pattern == "directory":
        found = [os.path.join(d, n) for d, _, names in os.walk(ref.path) for n in names]
        return sorted(found), []
    if ref.pattern == "prefix":
        by_frame: dict[int, list[str]] = {}
        for name in os.listdir(ref.path):
            if name.startswith(ref.prefix) and (m := _CACHE_FILE.fullmatch(name[len(ref.prefix):])):
                by_frame.setdefault(int(m.group(1)), []).append(os.path.join(ref.path, name))
        keep = set(by_frame)
        if ref.frames and by_frame:
            first, last = min(ref.frames), max(ref.frames)
            stored = sorted(by_frame)
            keep = {f for f in stored if first <= f <= last}
            keep |= {max((f for f in stored if f < first), default=first)}  # interpolation neighbours
            keep |= {min((f for f in stored if f > last), default=last)}
        return sorted(p for f in keep for p in by_frame.get(f, [])), []
    raise ValueError(f"unknown reference pattern {ref.pattern!r}")


def reference_root(ref: Reference, project_root: str) -> str:
    """The package path a reference's path becomes (pattern and directory paths included)."""
    return package_path(ref.path, project_root)


def file_package_path(ref: Reference, source: str, project_root: str) -> str:
    """The package path of one expanded file of a reference: it stays beside its pattern or inside its folder."""
    root = reference_root(ref, project_root)
    if ref.pattern in ("directory", "prefix"):
        return root + "/" + os.path.relpath(source, ref.path).replace(os.sep, "/")
    if ref.pattern in ("sequence", "udim"):
        folder = root.rpartition("/")[0]
        return (folder + "/" if folder else "") + os.path.basename(source)
    return root


def blend_magic(path: str) -> str | None:
    """"plain", "zstd" or "gzip" for a .blend (by its first bytes), None for anything else."""
    with open(path, "rb") as f:
        head = f.read(7)
    if head.startswith(b"BLENDER"):
        return "plain"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return None


def default_hash_cache_path() -> str:
    """Where the CLI and the panel keep file hashes between runs (shared with the upload)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "render-farm", "hashes.sqlite3")
