"""Pack a scene, pick providers, create its chunks on chain and upload it; with --wait, follow it to the frames.

Opens SCENE.blend without running its scripts (the file is only read), pre-flights and packs it,
estimates each frame's cost from the scene's features (or takes --complexity), lists the providers
on chain (or reads only those given with --provider) and keeps those the contract would accept,
splits --frames into chunks of --chunk frames over at most --providers of them (faster ones take
more), and prints the plan. Each chunk's reward is its price on its provider (complexity x price per
unit, the least the contract accepts; --max-cost caps the total), or with --reward a lump of STX split
by frame count. One create-jobs transaction escrows the rewards, then each chunk's sealed scene
manifest is stored on the relay. The chunks are kept in the job list (see `status`).

With --wait it shows a progress bar until every chunk's frames are on disk: a complete result is
approved once its previews open (an incomplete one is rejected), and the frames are decrypted,
checked against their hashes and written where the scene would have written them, or under --out.
Exit status: 0 done, 1 a farm error (the message says what to do), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import time

from . import common
from .follow_display import follow_until_done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("blend", metavar="SCENE.blend", help="the scene to render (only read, never written)")
    parser.add_argument("--frames", metavar="A-B", help="frames to render (default: the scene's range)")
    parser.add_argument("--chunk", type=int, default=12, metavar="N", help="frames per chunk (default 12)")
    parser.add_argument("--providers", type=int, default=2, metavar="N", help="at most N providers (default 2)")
    parser.add_argument("--provider", action="append", default=[], metavar="ADDRESS",
                        help="consider only these providers (repeatable; default: every provider on chain)")
    parser.add_argument("--pin", action="append", default=[], metavar="ADDRESS", help="prefer this provider")
    parser.add_argument("--exclude", action="append", default=[], metavar="ADDRESS", help="never use this provider")
    parser.add_argument("--min-reputation", type=int, default=0, metavar="N", help="minimum provider reputation")
    parser.add_argument("--reward", type=float, metavar="STX",
                        help="STX escrowed for all frames, split by frame count (default: each chunk at its "
                             "provider's price)")
    parser.add_argument("--max-cost", type=float, metavar="STX", help="refuse a plan that costs more than this")
    parser.add_argument("--complexity", type=int, metavar="S",
                        help="reference-seconds per frame (default: the estimate's feature model of the scene)")
    parser.add_argument("--out", metavar="DIR", help="write the frames here (default: the scene's output path)")
    parser.add_argument("--wait", action="store_true", help="follow the chunks until the frames are on disk")
    parser.add_argument("--timeout", type=float, default=3600, metavar="S", help="with --wait: give up after S s")
    parser.add_argument("--package-dir", metavar="DIR", help="where the package is written (default: in --home)")
    common.add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..farm.errors import FarmError
    from ..farm.job_list import JobList
    from ..farm.package import PackageError, parse_frames

    if args.chunk < 1 or args.providers < 1:
        return common.fail("--chunk and --providers must be at least 1", 2)
    if (args.reward is not None and args.reward <= 0) or (args.max_cost is not None and args.max_cost <= 0):
        return common.fail("--reward and --max-cost must be above 0 STX", 2)
    if args.complexity is not None and args.complexity < 1:
        return common.fail("--complexity must be at least 1 reference-second per frame", 2)
    try:
        endpoints, home, private_key = common.prepared(args)
        frames = parse_frames(args.frames) if args.frames else None
        scene = _pack(args, home, frames)
    except common.USER_ERRORS + (PackageError, ValueError) as error:
        return common.fail(str(error), 2)
    if scene is None:
        return 1
    package, render, first, last, output = scene
    return _submit(args, endpoints, home, private_key, package, render, (first, last), output, JobList(home),
                   FarmError)


def _pack(args, home, frames):
    """Open (scripts off), read the render settings, pack; None (problems printed) if pre-flight failed."""
    import bpy

    from ..blender.pack import open_blend, pack_loaded
    from ..farm.frame_naming import extension_for
    from ..farm.manifest import RenderSettings

    blend = os.path.abspath(args.blend)
    open_blend(blend)
    scene = bpy.context.scene
    settings = scene.render
    render = RenderSettings(engine=settings.engine, file_format=settings.image_settings.file_format,
                            resolution_x=settings.resolution_x, resolution_y=settings.resolution_y,
                            resolution_percentage=settings.resolution_percentage)
    extension_for(render.file_format)  # a movie format cannot be split over providers: say so now
    first, last = frames or (scene.frame_start, scene.frame_end)
    args.frame_seconds, args.once_seconds = _frame_costs(scene, first, last, args.complexity)
    pattern = bpy.path.abspath(settings.filepath)
    output = os.path.join(os.path.abspath(args.out), os.path.basename(pattern)) if args.out else pattern
    package_dir = args.package_dir or os.path.join(home, "packages", os.path.splitext(os.path.basename(blend))[0])
    os.makedirs(os.path.dirname(package_dir), exist_ok=True)
    result = pack_loaded(package_dir, frames=(first, last), in_session=False)
    for problem in result.problems:
        print(f"{problem.severity}: {problem.message}")
    if result.package is None:
        print("error: pre-flight found errors (above); fix them in the scene and submit again")
        return None
    return result.package, render, first, last, output


def _frame_costs(scene, first: int, last: int, complexity: int | None) -> tuple[tuple[float, ...], float]:
    """Reference-seconds of each frame and once per chunk, from the estimate's feature model of the open
    scene (addon.farm.estimate), or --complexity for every frame: what each chunk's complexity, reward
    and render deadline build on."""
    from ..blender.scene_stats import scene_stats
    from ..farm.estimate import scene_seconds

    if complexity is not None:
        return (float(complexity),) * len(range(first, last + 1)), 0.0
    seconds, _, once = scene_seconds(scene_stats(scene, frame_start=first, frame_end=last))
    print(f"estimate: about {sum(seconds) / len(seconds):.1f} reference-seconds per frame "
          "(feature model; --complexity overrides)")
    return tuple(seconds), once


def _micro(stx: float | None) -> int | None:
    return None if stx is None else round(stx * 1_000_000)


def _submit(args, endpoints, home, private_key, package, render, frames, output, job_list, FarmError) -> int:
    from ..farm.connection import open_requester
    from ..farm.manifest import FrameRange
    from ..farm.planning import Terms
    from ..farm.submit import submit_package
    from .follow_display import EventPrinter

    printer = EventPrinter()
    name = f"{os.path.basename(args.blend)} {frames[0]}-{frames[1]}"
    try:
        with open_requester(endpoints, home, private_key, on_event=printer) as requester:
            terms = Terms(requester=requester.address, frames=FrameRange(*frames), frame_seconds=args.frame_seconds,
                          max_providers=args.providers, chunk_size=args.chunk, reward=_micro(args.reward),
                          max_cost=_micro(args.max_cost), once_seconds=args.once_seconds,
                          min_reputation=args.min_reputation, pinned=tuple(args.pin), excluded=tuple(args.exclude))
            records = submit_package(requester, package, terms, args.provider, render=render, name=name,
                                     output=output, job_list=job_list)
            for record in records:
                print(f"job {record.job_id}: frames {record.frame_start}-{record.frame_end} on {record.provider}, "
                      f"{record.reward / 1e6:g} STX")
            if args.wait:
                started = time.monotonic()
                return follow_until_done(requester, job_list, endpoints.contract_id, [r.job_id for r in records],
                                         deadline=started + args.timeout)
    except FarmError as error:
        return common.fail(str(error))
    return 0
