"""The probe's child code: timed low-resolution, low-sample renders of a few frames (bpy).

Runs in a fresh background Blender on a .blend opened with scripts off (addon.farm.probe starts it).
Compositing, the sequencer and denoising are off (compositor File Output nodes never write, and the
probe times only the renderer), adaptive sampling off (the estimate models it), nothing is written
to disk. Prints one `PROBE {json}` line.
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
    render.use_persistent_data = False  # every render pays its own build, as in the truth and the model
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

    pixels = int(render.resolution_x * percentage / 100) * int(render.resolution_y * percentage / 100)
    warmup = 0.0
    if eevee:  # shader compilation happens once per process: time it apart from the frames
        scene.frame_set(frames[0])
        set_samples(1)
        warmup = _timed_render()
    out = []
    for i, frame in enumerate(frames):
        scene.frame_set(frame)
        low = low_seconds = None
        if i == 0:  # the first frame also at fewer samples: splits its time into per-sample and the rest
            low = max(1, samples // 4)
            set_samples(low)
            low_seconds = _timed_render()
        set_samples(samples)
        out.append({"frame": frame, "pixels": pixels, "samples": samples, "seconds": _timed_render(),
                    "low_samples": low, "low_seconds": low_seconds})
    print("PROBE " + json.dumps({"frames": out, "warmup_seconds": warmup}), flush=True)
