"""Pre-flight and pack a scene into a folder, uploading nothing.

Opens SCENE.blend without running its scripts, lists every problem (errors block submission), and,
when there is no error, writes a package to --out: a copy of the .blend and of every file the chosen
frames read, paths rewritten relative to the package, and a manifest of (path, sha256, size). The
artist's files are only read. A re-pack into the same --out when nothing the last pack read has changed
reuses that package without starting Blender (see --full). Exit status: 0 packed, 1 a problem is an
error (nothing written), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..farm.package import PackageError, default_hash_cache_path, parse_frames


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("blend", metavar="SCENE.blend", help="the scene to pack (only read, never written)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="package folder: new, empty, or a previous package (re-packed in place)")
    parser.add_argument("--frames", metavar="A-B", help="frames to render (default: the scene's range); only the "
                        "sequence frames these read are packed")
    parser.add_argument("--project", metavar="DIR", help="project folder (default: the .blend's folder); files "
                        "outside it are relocated under _external/ in the package")
    parser.add_argument("--json", action="store_true", help="print one JSON object (files and problems) on stdout")
    parser.add_argument("--hash-cache", metavar="FILE", default=default_hash_cache_path(),
                        help="SQLite cache of file hashes, so unchanged files are not read again "
                        "(default: %(default)s); 'none' for no cache")
    parser.add_argument("--full", action="store_true", help="trace the scene again even when nothing the previous "
                        "pack into --out read has changed (by default such a re-pack reuses it without Blender)")


def run(args: argparse.Namespace) -> int:
    # JSON goes to the real stdout; everything Blender prints meanwhile goes to stderr.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(os.dup(saved), "w", encoding="utf-8")
    try:
        return _run(args, out)
    finally:
        out.close()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _run(args: argparse.Namespace, out) -> int:
    blend = os.path.abspath(args.blend)
    try:
        frames = parse_frames(args.frames) if args.frames else None
        result = _pack(args, blend, frames)
    except PackageError as e:
        if args.json:
            problem = {"kind": "bad_input", "severity": "error", "path": blend, "message": str(e)}
            print(json.dumps({"blend": blend, "package": None, "files": [], "problems": [problem]}), file=out)
        else:
            print(f"error: {e}", file=sys.stderr)
        out.flush()
        return 2
    if args.json:
        print(json.dumps(result.to_json()), file=out)
    else:
        _report(result, out)
    out.flush()
    return 1 if result.package is None else 0


def _pack(args, blend, frames):
    if not args.full:
        reused = _reuse(args, blend, frames)
        if reused is not None:
            print(f"unchanged since the last pack: {reused.package.root} is reused as it is", file=sys.stderr)
            return reused
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    from ..blender.pack import pack_file
    from ..farm.hash_cache import HashCache

    cache = None if args.hash_cache == "none" else HashCache(args.hash_cache)
    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True, disable=args.json) as bar:
        task = bar.add_task("packing", total=None)
        result = pack_file(blend, args.out, project_root=args.project, frames=frames, cache=cache, reuse=False,
                           progress=lambda done, total: bar.update(task, completed=done, total=total))
    if cache:
        cache.close()
    return result


def _reuse(args, blend, frames):
    """The previous package if nothing it was packed from changed (farm/repack.py): no Blender is started."""
    from ..farm.repack import reuse

    cache = None
    if args.hash_cache != "none" and os.path.exists(args.hash_cache):
        def hash_file(path):  # only for an input whose stat moved: the hash cache may know its new stat
            nonlocal cache
            from ..farm.hash_cache import HashCache

            cache = cache or HashCache(args.hash_cache)
            return cache.plaintext_sha256(path).hex()
    else:
        hash_file = None
    try:
        return reuse(blend, args.out, project=args.project, frames=frames, hash_file=hash_file)
    finally:
        if cache:
            cache.close()


def _report(result, out) -> None:
    from rich.console import Console

    console = Console(file=out, highlight=False)
    for p in result.problems:
        colour = "red" if p.severity == "error" else "yellow"
        console.print(f"[{colour}]{p.severity}[/] [bold]{p.kind}[/]: {p.message}")
    if result.package is None:
        console.print("[red]not packed[/]: fix the errors above, then run pack again")
        return
    package = result.package
    size = sum(f.size for f in package.files)
    console.print(f"packed {len(package.files)} files ({size / 1e6:.1f} MB) into {package.root}; "
                  f"main file {package.blend}; providers need Blender {package.blender_version} or newer")
