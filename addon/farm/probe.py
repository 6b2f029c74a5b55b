"""Probe calibration: time a scene's own frames at low resolution and samples, then scale to full.

A fresh background Blender opens the .blend with scripts off (addon.farm.blender_process) and renders
one to three frames spread over the range at reduced pixels and samples (see
addon/blender/probe_render.py), each render a full one as a provider's (sync, BVH build, sampling):
the first frame at a quarter of the probe samples and at the probe samples, which splits its time into
a per-sample part (which scales to the full pixels x samples) and the rest (build, textures, per-render
overhead, paid once per frame whatever the settings); the later frames once each. Persistent data
cannot split it more cheaply: in bpy 5.0 a persistent-data render ignores changed sample counts, and
timing two persistent-data renders at two sizes (tried) measured the sample cost 30-60 % low.
`estimate.probe_frame_seconds` scales the timings to the full settings and converts local seconds to
reference-seconds with this machine's benchmark score.
bpy-free.
"""

import json
import math
import time
from pathlib import Path

from . import blender_process
from .estimate import EstimateError, ProbeFrame, ProbeResult, SceneStats, effective_samples, validate

PROBE_PIXEL_SHARE = 1 / 8    # Cycles probe pixels = this x the full frame's ...
MIN_PROBE_PIXELS = 32 * 24   # ... but enough pixels that the timing is not all per-render overhead
SAMPLE_SHARE = 1 / 2         # probe samples = this x the full (effective) samples, 1 to MAX_PROBE_SAMPLES
MAX_PROBE_SAMPLES = 64
_CHILD = Path(__file__).resolve().parent.parent / "blender" / "probe_render.py"


def probe_frames(frames: range) -> list[int]:
    """Frames to probe: 1 for short ranges, 2 from 9 frames, 3 from 25 (first, middle, last)."""
    count = 3 if len(frames) > 24 else 2 if len(frames) > 8 else 1
    return sorted({frames[round(i * (len(frames) - 1) / max(1, count - 1))] for i in range(count)})


def probe_settings(stats: SceneStats) -> tuple[int, int, list[int]]:
    """(resolution %, samples, frames) of the probe for these stats.

    Cycles: an eighth of the pixels and half the samples (1/16 of the sample work). EEVEE on
    this machine class is dominated by per-sample passes, not pixels, so it keeps the full resolution.
    """
    validate(stats)
    if stats.engine not in ("CYCLES", "BLENDER_EEVEE"):
        raise EstimateError(f"the probe renders Cycles and EEVEE scenes; estimate this {stats.engine} scene "
                            "without --probe")
    percentage = stats.resolution_percentage
    if stats.engine == "CYCLES":
        full = stats.resolution_x * stats.resolution_y  # at 100 %
        target = max(MIN_PROBE_PIXELS, stats.pixels * PROBE_PIXEL_SHARE)
        percentage = max(1, min(percentage, math.ceil(100 * math.sqrt(target / full))))
    samples = max(2 if stats.engine != "CYCLES" else 1,
                  min(MAX_PROBE_SAMPLES, round(effective_samples(stats) * SAMPLE_SHARE)))
    return percentage, samples, probe_frames(stats.frames)


def run_probe(blend: str | Path, stats: SceneStats, local_score: int, *, timeout: float = 600) -> ProbeResult:
    """Probe-render `blend` (whose stats are `stats`) on this machine, whose benchmark score is `local_score`."""
    if local_score <= 0:
        raise EstimateError("the local benchmark score must be positive")
    percentage, samples, frames = probe_settings(stats)
    code = blender_process.script_code(_CHILD, "child_main(ARGS)")
    started = time.perf_counter()
    try:
        result = blender_process.run(code, [str(blend), str(percentage), str(samples), ",".join(map(str, frames))],
                                     timeout=timeout)
        report = json.loads(blender_process.tagged_line(result, "PROBE"))
    except blender_process.BlenderProcessError as exc:
        raise EstimateError(f"the probe render failed: {exc}. Check that the scene renders in Blender, "
                            "or estimate without --probe") from exc
    return ProbeResult(tuple(ProbeFrame(**f) for f in report["frames"]), local_score, report["warmup_seconds"],
                       time.perf_counter() - started)
