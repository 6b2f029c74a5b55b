"""Timed renders that split each frame into sampling and the rest (bpy); the probe's child code.

`timed_render()` renders the current frame and times it, and from the renderer's own progress reports
(the `render_stats` handler: Cycles "Sample 0/32" ... "Sample 32/32", EEVEE "Rendering 1 / 8 samples"
... "8 / 8") also the seconds spent sampling; the rest (sync, BVH build, image loading, shader compile,
film and per-render overhead) is what the frame pays whatever its samples and pixels. One render per
frame gives both parts, so the probe needs no second render to separate them.

`child_main` is the probe: it runs in a fresh background Blender on a .blend opened with scripts off
(addon.farm.probe starts it) and renders a few frames at reduced resolution and samples. Compositing,
the sequencer, denoising and adaptive sampling are off (File Output nodes never write; the estimate
models denoising and adaptive sampling), nothing is written to disk. It stops early when its renders
have used the time budget it was given. Prints one `PROBE {json}` line. tests/estimate_corpus.py's
truth uses the same `timed_render` at full settings.
"""

import json
import re
import time

import bpy

_PROGRESS = re.compile(r"(?:Sample|Rendering) (\d+) ?/ ?(\d+)")


def timed_render() -> tuple[float, float | None]:
    """Render the current frame: (seconds, seconds spent sampling, or None if the renderer did not report)."""
    marks = []

    def on_stats(text, *_):
        match = _PROGRESS.search(str(text))
        if match:
            marks.append((time.perf_counter(), int(match[1])))

    bpy.app.handlers.render_stats.append(on_stats)
    start = time.perf_counter()
    try:
        bpy.ops.render.render(write_still=False)
    finally:
        bpy.app.handlers.render_stats.remove(on_stats)
    seconds = time.perf_counter() - start
    if len(marks) < 2:
        return seconds, None
    (t0, k0), (t1, k1) = marks[0], marks[-1]
    if k0 == 0:  # Cycles: sample 0 when sampling starts; the last report when it ends (adaptive: "0/N" again)
        return seconds, t1 - t0
    if k1 <= k0:
        return seconds, None
    return seconds, min(seconds, (t1 - t0) / (k1 - k0) * k1)  # EEVEE: sample 1 after the first; extrapolate


def child_main(args: list[str]) -> None:
    """ARGS: blend, resolution %, samples, comma-separated frames, stop after this many render seconds (0: never)."""
    scene = open_blend(args[0])  # noqa: F821 - defined by addon.farm.blender_process's prelude
    percentage, samples, frames = int(args[1]), int(args[2]), [int(f) for f in args[3].split(",")]
    stop_after = float(args[4]) if len(args) > 4 else 0.0
    render = scene.render
    render.resolution_percentage = percentage
    render.use_compositing = render.use_sequencer = False
    render.use_persistent_data = False  # every render pays its own build, as in the truth and the model
    render.filepath = bpy.app.tempdir + "probe"
    if render.engine == "BLENDER_EEVEE":
        scene.eevee.taa_render_samples = samples
    else:
        scene.cycles.samples = samples
        scene.cycles.use_adaptive_sampling = False
        scene.cycles.use_denoising = False
    pixels = int(render.resolution_x * percentage / 100) * int(render.resolution_y * percentage / 100)
    out, spent = [], 0.0
    for frame in frames:
        if stop_after and spent >= stop_after:  # over budget (the model underestimated): keep what we have
            break
        scene.frame_set(frame)
        seconds, sampling = timed_render()
        spent += seconds
        out.append({"frame": frame, "pixels": pixels, "samples": samples, "seconds": seconds,
                    "sampling_seconds": sampling})
    print("PROBE " + json.dumps({"frames": out}), flush=True)
