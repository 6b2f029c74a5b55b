"""The estimate's corpus: scenes of different kinds built in code, and their real, timed renders.

`build_corpus(out_dir)` runs this file's source in one child Blender (so the caller never imports bpy)
and saves one .blend per scene; `measure_truth(blend)` renders every frame at the scene's own settings in
a fresh child Blender with scripts off and returns the seconds of each frame's render. Used by
tests/test_estimate.py (building and reading stats) and bench/estimate.py (the truth).
"""

import json
import math
from pathlib import Path

from addon.farm import blender_process

# name -> kind; the builders (estimate_corpus_scenes.py) run only inside the child Blender. Every scene
# has a variant NAME_b (other resolution, samples, frames and strength of its feature): the originals are
# the first half of the corpus, the variants the second, so each half exercises every feature and the
# bench can fit the feature model on one half and test it on the other.
_FIRST_HALF = {
    "tiny": "a tiny scene", "simple": "one object, one sun", "heavy_geometry": "1.3 M triangles",
    "many_lights": "64 point lights", "volume": "a volumetric cube", "high_samples": "glass at 384 samples",
    "eevee": "EEVEE", "motion_blur": "moving objects with motion blur", "hair": "particle hair",
    "large_textures": "a 2k float texture", "long_animation": "40 frames, geometry grows 1 -> 24 copies",
    "adaptive_denoise": "adaptive sampling and OpenImageDenoise", "denoise": "OpenImageDenoise alone",
    "instances": "1500 particle instances",
}
_SECOND_HALF = {
    "tiny_b": "a tiny scene, 4 samples", "simple_b": "a coarser sphere, 200x150, 16 samples",
    "heavy_geometry_b": "790 k triangles, 48 samples", "many_lights_b": "16 point lights",
    "volume_b": "thinner fog, 48 samples", "high_samples_b": "glass at 256 samples",
    "eevee_b": "EEVEE, 128x96, 4 samples",
    "motion_blur_b": "two moving objects", "hair_b": "8000 hair strands", "large_textures_b": "a 1k float texture",
    "long_animation_b": "24 frames, 1 -> 12 copies", "adaptive_denoise_b": "adaptive threshold 0.1, 128 samples",
    "adaptive_b": "adaptive sampling alone",
    "instances_b": "600 particle instances",
}
KINDS = {**_FIRST_HALF, **_SECOND_HALF}
HALVES = (tuple(_FIRST_HALF), tuple(_SECOND_HALF))


def build_corpus(out_dir: Path, names: list[str] | None = None, *, timeout: float = 600) -> dict[str, Path]:
    """Save the corpus scenes (all, or `names`) as out_dir/NAME.blend; return name -> path."""
    names = names or list(KINDS)
    out_dir.mkdir(parents=True, exist_ok=True)
    code = blender_process.script_code(Path(__file__).with_name("estimate_corpus_scenes.py"), "child_main(ARGS)")
    blender_process.run(code, [str(out_dir), *names], timeout=timeout)
    return {name: out_dir / f"{name}.blend" for name in names}


_TIMED = Path(blender_process.__file__).resolve().parent.parent / "blender" / "probe_render.py"
_TRUTH = r'''
scene = open_blend(ARGS[0])
scene.render.filepath = bpy.app.tempdir + "truth"
frames = []
for frame in range(scene.frame_start, scene.frame_end + 1, scene.frame_step):
    scene.frame_set(frame)
    frames.append(timed_render())
print("TRUTH " + json.dumps(frames), flush=True)
'''


def measure_truth(blend: Path, *, timeout: float = 1800) -> tuple[list[float], list[float | None]]:
    """Seconds of each frame's render at full settings, all frames in one Blender (as a provider's chunk),
    and of each the seconds spent sampling (the probe's `timed_render`; None where not reported)."""
    result = blender_process.run(blender_process.script_code(_TIMED, _TRUTH), [str(blend)], timeout=timeout)
    frames = json.loads(blender_process.tagged_line(result, "TRUTH"))
    return [f[0] for f in frames], [f[1] for f in frames]


def percent_error(predicted: float, measured: float) -> float:
    return abs(predicted - measured) / measured * 100


def naive_fit(features: list[float], truths: list[float]) -> float:
    """k of truth ~ k x feature, fitted for percentage errors: the geometric mean of truth / feature."""
    ratios = [t / f for f, t in zip(features, truths, strict=True)]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))
