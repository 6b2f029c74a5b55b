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

# name -> (builder, kind); the builders below run only inside the child Blender.
KINDS = {
    "tiny": "a tiny scene", "simple": "one object, one sun", "heavy_geometry": "1.3 M triangles",
    "many_lights": "64 point lights", "volume": "a volumetric cube", "high_samples": "glass at 384 samples",
    "eevee": "EEVEE", "motion_blur": "moving objects with motion blur", "hair": "particle hair",
    "large_textures": "a 2k float texture", "long_animation": "40 frames, geometry grows 1 -> 24 copies",
    "adaptive_denoise": "adaptive sampling and OpenImageDenoise", "instances": "1500 particle instances",
}


def build_corpus(out_dir: Path, names: list[str] | None = None, *, timeout: float = 600) -> dict[str, Path]:
    """Save the corpus scenes (all, or `names`) as out_dir/NAME.blend; return name -> path."""
    names = names or list(KINDS)
    out_dir.mkdir(parents=True, exist_ok=True)
    code = blender_process.script_code(Path(__file__).with_name("estimate_corpus_scenes.py"), "child_main(ARGS)")
    blender_process.run(code, [str(out_dir), *names], timeout=timeout)
    return {name: out_dir / f"{name}.blend" for name in names}


_TRUTH = r'''
import json, time
import bpy
scene = open_blend(ARGS[0])
scene.render.filepath = bpy.app.tempdir + "truth"
times = []
for frame in range(scene.frame_start, scene.frame_end + 1, scene.frame_step):
    scene.frame_set(frame)
    start = time.perf_counter()
    bpy.ops.render.render(write_still=False)
    times.append(time.perf_counter() - start)
print("TRUTH " + json.dumps(times), flush=True)
'''


def measure_truth(blend: Path, *, timeout: float = 1800) -> list[float]:
    """Seconds of each frame's render at full settings, all frames in one Blender (as a provider's chunk)."""
    result = blender_process.run(_TRUTH, [str(blend)], timeout=timeout)
    return json.loads(blender_process.tagged_line(result, "TRUTH"))


def percent_error(predicted: float, measured: float) -> float:
    return abs(predicted - measured) / measured * 100


def naive_fit(features: list[float], truths: list[float]) -> float:
    """k of truth ~ k x feature, fitted for percentage errors: the geometric mean of truth / feature."""
    ratios = [t / f for f, t in zip(features, truths, strict=True)]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))
