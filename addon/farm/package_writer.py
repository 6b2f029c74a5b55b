"""Write a package directory all at once or not at all, copying and hashing in parallel.

Files are copied into a staging directory next to the output; only a complete package (manifest
last) is renamed into place, so a failure never leaves a half-written package and never touches a
previous one. A re-pack of an unchanged project hard-links the previous package's files (same bytes,
known by the hash cache from their size and mtime) instead of copying and hashing them again. Sources
are only ever opened for reading.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .hash_cache import HashCache
from .hashing import sha256_file
from .package import MANIFEST_NAME, Package, PackageError, PackageFile


@dataclass(frozen=True)
class PlannedFile:
    source: str  # absolute path to read
    path: str  # package path
    kind: str


Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


class PackageWriter:
    def __init__(self, out_dir: str | os.PathLike, cache: HashCache | None = None, workers: int | None = None):
        self.out = os.path.abspath(out_dir)
        self.cache = cache or HashCache(None)
        self.workers = workers or min(4, os.cpu_count() or 1)  # copies and hashes release the GIL
        self.previous = self._previous_package()
        parent = os.path.dirname(self.out)
        if not os.path.isdir(parent):
            raise PackageError(f"the folder {parent} for the package does not exist: create it or choose another --out")
        self.stage = tempfile.mkdtemp(prefix=f".{os.path.basename(self.out)}.partial-", dir=parent)
        self._hashed: list[tuple[str, bytes, os.stat_result]] = []  # (staged path, digest, stat) for the cache
        self._sources: list[tuple[str, bytes, os.stat_result]] = []  # sources hashed through their copies
        self._linked: dict[str, str] = {}  # package path -> sha256 hex of .blend copies linked by link_previous
        self.reused = 0  # files taken over from the previous package

    def _previous_package(self) -> Package | None:
        if not os.path.lexists(self.out):
            return None
        if not os.path.isdir(self.out):
            raise PackageError(f"{self.out} exists and is not a folder: choose a new or empty folder for --out")
        if os.path.isfile(os.path.join(self.out, MANIFEST_NAME)):
            try:
                return Package.load(self.out)
            except (OSError, ValueError, KeyError, TypeError):
                return None  # unreadable manifest: still ours, re-pack everything
        if os.listdir(self.out):
            raise PackageError(f"{self.out} is not empty and is not a package; choose a new or empty folder for "
                               "--out (nothing was written)")
        return None

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.stage, ignore_errors=True)

    def staged(self, path: str) -> str:
        """The absolute path of a package path in the staging directory, its folders created."""
        target = os.path.join(self.stage, *path.split("/"))
        if not os.path.abspath(target).startswith(self.stage + os.sep):
            raise PackageError(f"package path {path!r} leaves the package")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return target

    def copy(self, planned: list[PlannedFile], progress: Progress | None = None) -> list[PackageFile]:
        total = sum(_regular_size(p.source) for p in planned)
        done = 0

        results: list[PackageFile] = []
        with ThreadPoolExecutor(self.workers) as pool:
            for entry in pool.map(self._copy_one, planned):
                results.append(entry)
                done += entry.size
                if progress:
                    progress(done, total)
        return results

    def _copy_one(self, item: PlannedFile) -> PackageFile:
        target = self.staged(item.path)
        before = _regular_stat(item.source)
        old = self._reusable(item, before)
        if old is not None:
            os.link(old, target)
            self.reused += 1
            digest = self.cache.plaintext_sha256(old).hex()
            return PackageFile(item.path, digest, before.st_size, item.kind, item.source)
        try:
            shutil.copyfile(item.source, target)
        except OSError as e:
            raise PackageError(f"could not copy {item.source}: {e.strerror or e}; check that it is readable") from e
        written = os.stat(target)
        digest = sha256_file(target)  # what was written, fresh in the page cache
        after = os.stat(item.source)
        self._hashed.append((target, digest, written))
        if (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns):
            self._sources.append((item.source, digest, before))  # same bytes as the copy: remembered at commit
        return PackageFile(item.path, digest.hex(), written.st_size, item.kind, item.source)

    def _reusable(self, item: PlannedFile, source_stat: os.stat_result) -> str | None:
        """The previous package's copy of this file if its bytes are still the source's."""
        if self.previous is None:
            return None
        old = next((f for f in self.previous.files if f.path == item.path and f.source == item.source), None)
        if old is None or old.size != source_stat.st_size:
            return None
        old_path = self.previous.absolute(old)
        try:
            if os.stat(old_path).st_size != old.size:
                return None
            if self.cache.plaintext_sha256(item.source).hex() != old.sha256:
                return None
            if self.cache.plaintext_sha256(old_path).hex() != old.sha256:
                return None
        except OSError:
            return None
        return old_path

    def link_previous(self, path: str, rewrite_key: str) -> bool:
        """Take the previous package's .blend copy at `path` if it was rewritten from the same inputs."""
        if self.previous is None or self.previous.rewrite_keys.get(path) != rewrite_key:
            return False
        old = next((f for f in self.previous.files if f.path == path), None)
        if old is None:
            return False
        old_path = self.previous.absolute(old)
        try:
            if self.cache.plaintext_sha256(old_path).hex() != old.sha256:
                return False
            os.link(old_path, self.staged(path))
        except OSError:
            return False
        self._linked[path] = old.sha256
        self.reused += 1
        return True

    def add_written(self, path: str, kind: str, source: str) -> PackageFile:
        """A file written into the staging directory by someone else (a .blend copy saved by Blender)."""
        target = os.path.join(self.stage, *path.split("/"))
        written = os.stat(target)
        if path in self._linked:  # taken over from the previous package: its hash is known
            return PackageFile(path, self._linked[path], written.st_size, kind, source)
        digest = sha256_file(target)
        self._hashed.append((target, digest, written))
        return PackageFile(path, digest.hex(), written.st_size, kind, source)

    def commit(self, blend: str, files: list[PackageFile], blender_version: str = "",
               rewrite_keys: dict[str, str] | None = None, inputs: dict | None = None) -> Package:
        package = Package(root=self.stage, blend=blend, files=files, blender_version=blender_version,
                          rewrite_keys=rewrite_keys or {}, inputs=inputs or {})
        package.save_manifest()
        old = None
        if os.path.lexists(self.out):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(self.out)}.old-", dir=os.path.dirname(self.out))
            os.rename(self.out, os.path.join(old, "package"))
        os.rename(self.stage, self.out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        package.root = self.out
        # The final paths' hashes, so a re-pack and the upload find them without reading the bytes again.
        moved = [(os.path.join(self.out, os.path.relpath(p, self.stage)), d, s) for p, d, s in self._hashed]
        self.cache.remember(moved + self._sources)
        return package


def _regular_stat(path: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except OSError as e:
        raise PackageError(f"cannot read {path}: {e.strerror or e}") from e
    if not stat.S_ISREG(st.st_mode):
        raise PackageError(f"{path} is not a regular file; point the data-block at a file")
    return st


def _regular_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
