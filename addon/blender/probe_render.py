"""The probe's child code: timed low-resolution, low-sample renders of a few frames (bpy).

Runs in a fresh background Blender on a .blend opened with scripts off (addon.farm.probe starts it).
Compositing, the sequencer and denoising are off (compositor File Output nodes never write, and the
probe times only the renderer), adaptive sampling off (the estimate models it), nothing is written
to disk. Prints one `PROBE {json}` line; addon/farm/probe.py says what is rendered and why.
"""

import json
import time

import bpy


def _timed_render() -> float:
    start = time.perf_counter()
    bpy.ops.render.render(write_still=False)
    return time.perf_counter() - start


def child_main(args: list[str]) -> None:
    """ARGS: blend, resolution %, samples, comma-separated frames."""
    scene = open_blend(args[0])  # noqa: F821 - defined by addon.farm.blender_process's prelude
    percentage, samples, frames = int(args[1]), int(args[2]), [int(f) for f in args[3].split(",")]
    render = scene.render
    render.resolution_percentage = percentage
    render.use_compositing = render.use_sequencer = False
    render.use_persistent_data = False  # every frame pays its own build, as in the truth and the model
    render.filepath = bpy.app.tempdir + "probe"
    eevee = render.engine == "BLENDER_EEVEE"
    if render.engine == "CYCLES":
        scene.cycles.use_adaptive_sampling = False
        scene.cycles.use_denoising = False

    def set_samples(n):
        if eevee:
            scene.eevee.taa_render_samples = n
        else:
            scene.cycles.samples = n

    def pixels_at(pct):
        return int(render.resolution_x * pct / 100) * int(render.resolution_y * pct / 100)

    pixels = pixels_at(percentage)
    if eevee:
        _probe_eevee(scene, frames, samples, pixels, set_samples)
        return
    # Later frames first, each once without persistent data: sync, BVH build and sampling, as a provider.
    set_samples(samples)
    out = []
    for frame in frames[1:]:
        scene.frame_set(frame)
        out.append({"frame": frame, "pixels": pixels, "samples": samples, "seconds": _timed_render()})
    # The first frame with persistent data: the first render builds everything, the next two reuse the
    # build at two sizes, so their difference is pure sampling. (Persistent data honours a changed
    # resolution; in bpy 5.0 it ignores a changed sample count, so the size is what varies.)
    scene.frame_set(frames[0])
    render.use_persistent_data = True
    built = _timed_render()
    reused = _timed_render()
    render.resolution_percentage = 2 * percentage
    reused_big = _timed_render()
    first = {"frame": frames[0], "pixels": pixels, "samples": samples, "seconds": built, "reuse_seconds": reused,
             "reuse_big_pixels": pixels_at(2 * percentage), "reuse_big_seconds": reused_big}
    print("PROBE " + json.dumps({"frames": [first, *out], "warmup_seconds": 0.0}), flush=True)


def _probe_eevee(scene, frames, samples, pixels, set_samples) -> None:
    """EEVEE: a 1-sample warm-up (shader compilation), then the first frame at 1 and at `samples`."""
    scene.frame_set(frames[0])
    set_samples(1)
    warmup = _timed_render()
    out = []
    for i, frame in enumerate(frames):
        scene.frame_set(frame)
        one = None
        if i == 0:
            set_samples(1)
            one = _timed_render()
        set_samples(samples)
        out.append({"frame": frame, "pixels": pixels, "samples": samples, "seconds": _timed_render(),
                    "low_samples": 1 if i == 0 else None, "low_seconds": one})
    print("PROBE " + json.dumps({"frames": out, "warmup_seconds": warmup}), flush=True)
