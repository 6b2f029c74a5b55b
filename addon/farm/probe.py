"""Probe calibration: time a scene's own frames at low resolution and samples, then scale to full.

The probe has a budget: its renders may cost at most `budget` (default 4 %) of the full render that the
feature model predicts. `plan_probe` prices candidate probes with the same model (a render's fixed part
is paid whatever its settings, its sampling part shrinks with pixels x samples) and picks the most
informative one that fits: up to 3 frames spread over the range, each at up to 1/16 of a frame's sample
work (Cycles: 1/8 of the pixels, half the samples; EEVEE, whose cost on this machine class is per-sample
passes, at full resolution with fewer samples). When even one frame at the least measurable settings
would cost more than the budget (short renders: the probe's fixed costs are a frame's), the probe is
skipped and the estimate is the feature model's, saying so.

`run_probe` renders the plan in one fresh background Blender (scripts off, addon.farm.blender_process;
renders in addon/blender/probe_render.py), one render per frame: the renderer's progress reports split
each into sampling and the rest, so no second render is needed. The child stops early once its renders
have used the budget (when the model underestimated the scene). `estimate.probe_frame_seconds` scales
the timings to the full settings and converts local seconds to reference-seconds with this machine's
benchmark score. bpy-free.
"""

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from . import blender_process
from .estimate import (
    DEFAULT_COSTS,
    CostModel,
    EstimateError,
    ProbeFrame,
    ProbeResult,
    SceneStats,
    effective_samples,
    feature_frame_seconds,
    nearest_content,
    once_seconds,
    probe_once_seconds,
    render_parts,
    validate,
)

DEFAULT_BUDGET = 0.04        # the probe's renders cost at most this share of the predicted full render
SAMPLE_WORK_SHARE = 1 / 16   # a probed frame's sample work, at most, against a full frame's ...
PIXEL_SHARE = 1 / 8          # ... as 1/8 of the pixels (Cycles) and half the samples
MIN_PROBE_PIXELS = 32 * 24   # enough pixels that the timing is not all per-render overhead
MIN_PROBE_SAMPLES = 4        # enough samples for the progress reports to time the sampling
MAX_PROBE_SAMPLES = 64
MIN_SAMPLING_SECONDS = 0.01  # reference-seconds of sampling per probed render: less is timing noise
_CHILD = Path(__file__).resolve().parent.parent / "blender" / "probe_render.py"


@dataclass(frozen=True)
class ProbePlan:
    """What the probe will render, what it should cost, and what the budget allows (reference-seconds)."""

    frames: tuple[int, ...]          # empty: skipped (see `reason`)
    percentage: int
    samples: int
    predicted_seconds: float         # the probe's renders, by the feature model
    full_seconds: float              # the full render (frames and per-chunk compile), by the feature model
    budget: float                    # share of full_seconds the probe may cost
    reason: str = ""                 # why it was skipped

    @property
    def skipped(self) -> bool:
        return not self.frames

    @property
    def budget_seconds(self) -> float:
        return self.budget * self.full_seconds


def probe_frames(frames: range, count: int = 0) -> list[int]:
    """`count` frames spread over the range (default: 1 up to 8 frames, 2 up to 24, else 3), ends included."""
    count = min(len(frames), count or (3 if len(frames) > 24 else 2 if len(frames) > 8 else 1))
    return sorted({frames[round(i * (len(frames) - 1) / max(1, count - 1))] for i in range(count)})


def _settings(stats: SceneStats, work: float, costs: CostModel) -> tuple[int, int, int]:
    """(resolution %, probe pixels, samples) doing about `work` of one full frame's sample work (0..1]."""
    full_samples = effective_samples(stats, costs)
    samples = max(min(MIN_PROBE_SAMPLES, stats.samples), min(MAX_PROBE_SAMPLES, round(full_samples / 2)))
    if stats.engine != "CYCLES":  # EEVEE: full resolution, fewer samples
        samples = max(min(2, stats.samples), min(samples, round(full_samples * work)))
        return stats.resolution_percentage, stats.pixels, samples
    pixels = stats.pixels * work * full_samples / samples
    if pixels < MIN_PROBE_PIXELS:  # too few pixels: keep the floor and take fewer samples instead
        pixels = min(stats.pixels, MIN_PROBE_PIXELS)
        samples = max(min(MIN_PROBE_SAMPLES, stats.samples), round(stats.pixels * work * full_samples / pixels))
    full = stats.resolution_x * stats.resolution_y  # at 100 %
    percentage = max(1, min(stats.resolution_percentage, math.ceil(100 * math.sqrt(pixels / full))))
    scale = percentage / 100
    return percentage, max(1, int(stats.resolution_x * scale)) * max(1, int(stats.resolution_y * scale)), samples


def plan_probe(stats: SceneStats, budget: float = DEFAULT_BUDGET, costs: CostModel = DEFAULT_COSTS) -> ProbePlan:
    """The most informative probe whose renders the model prices at most `budget` x the predicted full render."""
    validate(stats)
    if stats.engine not in ("CYCLES", "BLENDER_EEVEE"):
        raise EstimateError(f"the probe renders Cycles and EEVEE scenes; estimate this {stats.engine} scene "
                            "without --probe")
    if not 0 < budget <= 1:
        raise EstimateError(f"the probe budget must be above 0 and at most 100 % of the render, not {budget:.0%}")
    once = once_seconds(stats, costs)
    full = sum(feature_frame_seconds(stats, costs)) + once
    cheapest = math.inf
    for count in range(len(probe_frames(stats.frames)), 0, -1):
        frames = probe_frames(stats.frames, count)
        for work in (SAMPLE_WORK_SHARE, SAMPLE_WORK_SHARE / 4, SAMPLE_WORK_SHARE / 16, SAMPLE_WORK_SHARE * 4):
            percentage, pixels, samples = _settings(stats, work, costs)
            parts = [render_parts(stats, nearest_content(stats, f), pixels, samples, costs) for f in frames]
            cost = once + sum(fixed + sampling for fixed, sampling in parts)
            cheapest = min(cheapest, cost)
            if cost <= budget * full and min(sampling for _, sampling in parts) >= MIN_SAMPLING_SECONDS:
                return ProbePlan(tuple(frames), percentage, samples, cost, full, budget)
    reason = (f"a probe would cost at least {cheapest:.2g} reference-s of renders, more than {budget:.0%} of the "
              f"predicted {full:.2g} reference-s" if cheapest > budget * full else
              "the frames are too short for a probe to time their sampling")
    return ProbePlan((), stats.resolution_percentage, stats.samples, 0.0, full, budget, reason)


def describe(plan: ProbePlan, result: ProbeResult | None = None) -> str:
    """One line for the artist: what the probe did (or why not) against its budget."""
    if plan.skipped:
        return f"probe skipped, estimate from the scene's features: {plan.reason}"
    rendered = len(result.frames) if result else len(plan.frames)
    stopped = f" (of {len(plan.frames)} planned: the budget was used)" if rendered < len(plan.frames) else ""
    text = (f"probe: {rendered} frame(s){stopped} at {plan.percentage} % resolution and {plan.samples} samples, "
            f"budget {plan.budget:.0%} of the predicted render ({plan.budget_seconds:.2g} reference-s)")
    if result:
        used = result.render_seconds * result.local_score / 100
        text += (f"; its renders took {result.render_seconds:.2f} s = {used / plan.full_seconds:.1%} of it, "
                 f"plus {max(0.0, result.wall_seconds - result.render_seconds):.1f} s Blender start and scene load")
    return text


def run_probe(blend: str | Path, stats: SceneStats, local_score: int, plan: ProbePlan | None = None, *,
              timeout: float = 600) -> ProbeResult:
    """Probe-render `blend` (whose stats are `stats`) on this machine, whose benchmark score is `local_score`."""
    if local_score <= 0:
        raise EstimateError("the local benchmark score must be positive")
    plan = plan or plan_probe(stats)
    if plan.skipped:
        raise EstimateError(f"no probe to run: {plan.reason}")
    stop_after = plan.budget_seconds * 100 / local_score  # local seconds of renders
    code = blender_process.script_code(_CHILD, "child_main(ARGS)")
    started = time.perf_counter()
    try:
        result = blender_process.run(code, [str(blend), str(plan.percentage), str(plan.samples),
                                            ",".join(map(str, plan.frames)), f"{stop_after:.6g}"], timeout=timeout)
        report = json.loads(blender_process.tagged_line(result, "PROBE"))
    except blender_process.BlenderProcessError as exc:
        raise EstimateError(f"the probe render failed: {exc}. Check that the scene renders in Blender, "
                            "or estimate without --probe") from exc
    frames = tuple(ProbeFrame(**f) for f in report["frames"])
    return ProbeResult(frames, local_score, probe_once_seconds(stats, frames), time.perf_counter() - started)
