"""A .blend's estimate features, read in a fresh background Blender with scripts off. bpy-free.

The child runs addon/blender/scene_stats.py on the opened file and prints `STATS {json}`; the artist's
file is only read, never saved.
"""

import json
import re
from pathlib import Path

from . import blender_process
from .estimate import EstimateError, SceneStats

_CHILD = Path(__file__).resolve().parent.parent / "blender" / "scene_stats.py"


def parse_frames(text: str) -> tuple[int, int]:
    """'A-B' (or one frame 'A') as (start, end); raise EstimateError saying the expected form."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if not match:
        raise EstimateError(f"frames {text!r}: expected A-B, e.g. 1-250, or one frame")
    start = int(match[1])
    return start, int(match[2]) if match[2] is not None else start


def read_blend_stats(blend: str | Path, frames: tuple[int, int] | None = None, *, timeout: float = 600) -> SceneStats:
    blend = Path(blend)
    if not blend.is_file():
        raise EstimateError(f"{blend}: no such file; give the path of a .blend")
    frame_arg = f"{frames[0]}:{frames[1]}" if frames else ""
    try:
        result = blender_process.run(blender_process.script_code(_CHILD, "child_main(ARGS)"),
                                     [str(blend.resolve()), frame_arg], timeout=timeout)
        return SceneStats.from_dict(json.loads(blender_process.tagged_line(result, "STATS")))
    except blender_process.BlenderProcessError as exc:
        raise EstimateError(f"{blend}: Blender could not read it ({exc}); check that it opens in Blender") from exc
