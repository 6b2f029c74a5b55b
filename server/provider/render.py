"""Render frames of an untrusted .blend safely: one Blender process per frame, scripts never run.

Each frame runs in a fresh `python -c` with the bpy wheel: Python auto-execution is switched off
before the file is opened and the file is opened with `use_scripts=False`, so neither registered
text blocks nor driver expressions run; the process gets its own temp dir, a CPU-time cap and an
address-space cap (POSIX rlimits), and a wall-clock timeout. A low-resolution preview is written
beside each frame so the requester can judge the result before paying.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Runs inside the child process. Kept as data (not imported) so nothing of the scene can reach us.
_CHILD = r"""
import json, resource, sys
spec = json.loads(sys.argv[1])
# Limits first, before Blender reads a byte of the scene.
resource.setrlimit(resource.RLIMIT_CPU, (spec["cpu_seconds"], spec["cpu_seconds"]))
resource.setrlimit(resource.RLIMIT_AS, (spec["memory_bytes"], spec["memory_bytes"]))
import bpy
bpy.context.preferences.filepaths.use_scripts_auto_execute = False
bpy.ops.wm.open_mainfile(filepath=spec["blend"], load_ui=False, use_scripts=False)
scene = bpy.context.scene
scene.frame_set(spec["frame"])
scene.render.filepath = spec["output"]
scene.render.image_settings.file_format = "PNG"
scene.render.use_file_extension = False
scene.render.threads_mode = "FIXED"
scene.render.threads = spec["threads"]
bpy.ops.render.render(write_still=True)
image = bpy.data.images.load(spec["output"])
width, height = image.size
scale = max(1, max(width, height) // spec["preview_size"])
image.scale(max(1, width // scale), max(1, height // scale))
image.filepath_raw = spec["preview"]
image.file_format = "PNG"
image.save()
print("RENDERED " + json.dumps({"frame": spec["frame"], "size": [width, height]}))
"""


class RenderError(RuntimeError):
    """A frame could not be rendered (bad scene, time or memory cap hit, Blender crashed)."""


@dataclass(frozen=True)
class RenderedFrame:
    frame: int
    image: Path
    preview: Path


def render_frame(blend: Path, frame: int, out_dir: Path, *, time_cap: float = 600, memory_cap: int = 8 << 30,
                 threads: int = 0, preview_size: int = 160) -> RenderedFrame:
    blend, out_dir = Path(blend).resolve(), Path(out_dir).resolve()  # the child runs in its own temp dir
    out_dir.mkdir(parents=True, exist_ok=True)
    image, preview = out_dir / f"frame_{frame:05d}.png", out_dir / f"preview_{frame:05d}.png"
    spec = {"blend": str(blend), "frame": frame, "output": str(image), "preview": str(preview),
            "threads": threads or os.cpu_count() or 1, "preview_size": preview_size, "memory_bytes": memory_cap}
    spec["cpu_seconds"] = int(time_cap * spec["threads"]) + 30  # CPU time across all render threads
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        env = {"PATH": os.environ.get("PATH", ""), "TMPDIR": tmp, "HOME": tmp, "PYTHONNOUSERSITE": "1"}
        try:
            result = subprocess.run([sys.executable, "-I", "-c", _CHILD, json.dumps(spec)], cwd=tmp, env=env,
                                    capture_output=True, text=True, timeout=time_cap, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise RenderError(f"frame {frame} took longer than {time_cap:g} s; raise the time cap or "
                              "lower the scene's samples/resolution") from None
    if result.returncode != 0 or "RENDERED " not in result.stdout or not image.exists():
        raise RenderError(_failure(frame, result, spec))
    return RenderedFrame(frame, image, preview)


_OUT_OF_MEMORY = ("MemoryError", "failed to map segment", "Cannot allocate memory", "bad_alloc", "out of memory")


def _failure(frame: int, result: subprocess.CompletedProcess, spec: dict) -> str:
    """Say why a frame failed, and what the GPU owner can do about it."""
    output = (result.stderr or "") + (result.stdout or "")
    if result.returncode == -signal.SIGXCPU:
        return (f"frame {frame} used up its CPU-time cap ({spec['cpu_seconds']} s): raise the time cap "
                "or lower the scene's samples/resolution")
    if any(sign in output for sign in _OUT_OF_MEMORY) or result.returncode == -signal.SIGKILL:
        return (f"frame {frame} ran out of its memory cap ({spec['memory_bytes'] >> 20} MiB): raise the "
                "memory cap if this machine has more, or decline scenes this large")
    tail = output.strip().splitlines()[-5:]
    return f"frame {frame} failed (exit {result.returncode}): " + " | ".join(tail)


def render_frames(blend: Path, frames: range, out_dir: Path, on_frame=None, **limits) -> list[RenderedFrame]:
    done = []
    for frame in frames:
        done.append(render_frame(blend, frame, out_dir, **limits))
        if on_frame:
            on_frame(done[-1])
    return done
