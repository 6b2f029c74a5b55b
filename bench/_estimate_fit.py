"""Fit the feature model's constants (addon.farm.estimate.CostModel) to measured renders, by one procedure.

Input: bench/estimate's raw rows (a scene's stats, each frame's render seconds and seconds spent sampling
from the renderer's progress reports, the machine's benchmark score). Every time is converted to
reference-seconds (x score / 100). Each scene's frames are grouped by the sampled content they are
nearest to (one group when its content does not change), the first frame of the range left out (it also
pays a chunk's one-time costs), and each group gives medians of two measured parts:
  rest      render seconds minus sampling: compared with the model's fixed part (`render_parts`);
  sampling  compared with the model's sampling part (plus the modelled denoise: OpenImageDenoise runs
            inside the sampling reports); where the renderer gave no reports, the frame total instead.
The fit is least squares on log time: it minimises the sum of squared log(predicted / measured) over
those parts (each scene's residuals weighted so that every scene counts the same), with the constants
bounded at 0 (scipy.optimize.least_squares, trust-region reflective), plus a weak pull of PRIOR_WEIGHT
per unit of each constant (the table below; a unit is a plausible magnitude) toward its start: 0 (no
effect) for the feature terms, one unit for the base costs. The pull decides only what the data does
not: two constants that trade off against each other in the scenes fitted, or a feature absent from
them, which then costs nothing extra.
EEVEE's per-chunk compile is the median over EEVEE scenes of the first frame's rest minus the others'.
Not fitted (no corpus scene varies them): the bounce term's form and the Workbench constant.
"""

import math
import statistics
from dataclasses import replace

import numpy as np
from scipy.optimize import least_squares

from addon.farm import estimate

# Fitted CostModel fields -> (unit, start in units). Units only scale the problem; starts: see above.
FITTED = {
    "frame_fixed": (0.01, 1.0), "per_triangle": (1e-7, 0.0), "per_instance": (1e-5, 0.0),
    "per_texture_byte": (1e-9, 0.0), "per_hair_strand": (1e-6, 0.0), "sample_pixel": (1e-7, 1.0),
    "geometry_log2": (0.1, 0.0), "light_log2": (0.1, 0.0), "volume": (0.1, 0.0), "motion_blur": (0.1, 0.0),
    "hair_log2": (0.1, 0.0), "adaptive_share": (0.01, 1.0), "denoise_pixel": (1e-6, 0.0),
    "eevee_frame_fixed": (1.0, 1.0), "eevee_sample": (0.1, 1.0), "eevee_sample_pixel": (1e-6, 0.0),
}
PRIOR_WEIGHT = 0.03  # a constant 10 units from its start weighs as a 30 % log-error of one scene part
_POSITIVE = {"frame_fixed", "sample_pixel", "adaptive_share", "eevee_frame_fixed"}  # a zero would divide by 0


def _groups(row: dict) -> list[tuple[estimate.FrameContent, dict]]:
    """(content, medians of the measured parts in reference-seconds) per group of the scene's frames."""
    stats = estimate.SceneStats.from_dict(row["stats"])
    to_reference = row["local_score"] / 100
    seconds, sampling = row["truth"], row.get("truth_sampling") or [None] * len(row["truth"])
    frames = list(stats.frames)
    keep = range(1, len(frames)) if len(frames) > 1 else range(len(frames))
    same = len({replace(c, frame=0) for c in stats.content}) == 1
    groups: dict[int, list[int]] = {}
    for i in keep:
        content = stats.content[0] if same else estimate.nearest_content(stats, frames[i])
        groups.setdefault(content.frame, []).append(i)
    out = []
    for frame, indices in sorted(groups.items()):
        timed = [i for i in indices if sampling[i] is not None]
        parts = {"total": statistics.median(seconds[i] for i in indices) * to_reference}
        if timed:
            parts["rest"] = statistics.median(seconds[i] - sampling[i] for i in timed) * to_reference
            parts["sampling"] = statistics.median(sampling[i] for i in timed) * to_reference
        out.append((next(c for c in stats.content if c.frame == frame), parts))
    return out


def _residuals(costs: estimate.CostModel, rows: list[dict]) -> list[float]:
    out = []
    for row in rows:
        stats = estimate.SceneStats.from_dict(row["stats"])
        groups = _groups(row)
        weight = 1 / math.sqrt(len(groups))
        for content, parts in groups:
            fixed, sampling = estimate.render_parts(stats, content, stats.pixels,
                                                    estimate.effective_samples(stats, costs), costs)
            sampling += estimate.denoise_cost(stats, costs)
            if "rest" in parts and parts["rest"] > 0 and parts["sampling"] > 0:
                out += [weight * math.log(fixed / parts["rest"]), weight * math.log(sampling / parts["sampling"])]
            else:
                out.append(weight * math.log((fixed + sampling) / parts["total"]))
    return out


def _compile_seconds(rows: list[dict]) -> float:
    once = []
    for row in rows:
        sampling = row.get("truth_sampling") or []
        if row["stats"]["engine"] != "BLENDER_EEVEE" or len(row["truth"]) < 2 or None in sampling:
            continue
        rests = [t - s for t, s in zip(row["truth"], sampling, strict=True)]
        once.append(max(0.0, rests[0] - statistics.median(rests[1:])) * row["local_score"] / 100)
    return statistics.median(once) if once else 0.0


def fit(rows: list[dict]) -> estimate.CostModel:
    """The CostModel that fits these measured scenes best by the procedure above."""
    names = list(FITTED)
    units = np.array([FITTED[n][0] for n in names])

    def costs_of(x):
        return replace(estimate.CostModel(), **{n: float(v) for n, v in zip(names, x * units, strict=True)},
                       eevee_chunk_compile=_compile_seconds(rows))

    lower = np.array([1e-3 if n in _POSITIVE else 0.0 for n in names])
    start = np.maximum(lower, [FITTED[n][1] for n in names])
    def residuals(x):
        return [*_residuals(costs_of(x), rows), *(PRIOR_WEIGHT * (x - start))]

    result = least_squares(residuals, start, bounds=(lower, np.inf), method="trf")
    return costs_of(result.x)


def source(costs: estimate.CostModel) -> str:
    """The fitted constants as the CostModel fields to paste into addon/farm/estimate.py."""
    def value(name):
        v = getattr(costs, name)
        return 0.0 if name in FITTED and v < 1e-6 * FITTED[name][0] else v  # at its bound, up to solver noise

    return "\n".join(f"    {name}: float = {value(name):.3g}" for name in [*FITTED, "eevee_chunk_compile"])
