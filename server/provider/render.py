"""Render a chunk of frames of an untrusted .blend: one sandboxed Blender process for the chunk.

The process (a `python -I -c` with the bpy wheel, inside the bubblewrap sandbox of sandbox.py, under
the memory cap of limits.py) switches Python auto-execution off, opens the scene with
`use_scripts=False`, removes what could still run code or write files (hardening.py), turns on
persistent data so the BVH and images stay loaded between frames, and renders the frames one after
another. It reports each step as a JSON line on a pipe of its own (Blender's chatter goes to a log
file); the parent holds each frame to its wall-clock cap, kills the process group when a frame runs
over, and starts a new process from the next unfinished frame when one dies. A frame that fails twice
ends the chunk with a RenderError naming the frame and the reason. Frames are written under a
temporary name and renamed when complete, so the output dir never holds half a frame.
"""

import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.provider import devices
from server.provider import sandbox as sandboxing
from server.provider.hardening import SCAN, SceneRisks
from server.provider.limits import MemoryCap, RenderLimits

DEFAULT_LIMITS = RenderLimits()  # frozen: safe to share as a default

__all__ = ["RenderError", "RenderLimits", "RenderedFrame", "SceneRisks", "SandboxUnavailable", "inspect_scene",
           "render_chunk", "render_frame"]

SandboxUnavailable = sandboxing.SandboxUnavailable
log = logging.getLogger(__name__)

# Runs inside the sandboxed child. Kept as source (never imported) so nothing of the scene can reach us.
_CHILD = SCAN + r'''
import json, os, resource, sys, time
spec = json.loads(sys.argv[1])
report = os.fdopen(spec["report_fd"], "w", buffering=1)
def say(event, **fields):
    report.write(json.dumps({"event": event, **fields}) + "\n")
if spec["rlimit_as"]:  # before Blender reads a byte of the scene
    resource.setrlimit(resource.RLIMIT_AS, (spec["rlimit_as"], spec["rlimit_as"]))
import bpy
bpy.context.preferences.filepaths.use_scripts_auto_execute = False
try:
    bpy.ops.wm.open_mainfile(filepath=spec["blend"], load_ui=False, use_scripts=False)
except Exception as e:
    say("open_failed", error=str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__)
    report.flush()
    os._exit(3)
risks = scan_scene(bpy, spec["mode"] == "render", spec["job_root"])
if spec["mode"] == "inspect":
    say("risks", risks=risks)
    report.flush()
    os._exit(0)
scene = bpy.context.scene
device = spec["device"]
if device["kind"] != "CPU":
    prefs = bpy.context.preferences.addons["cycles"].preferences
    prefs.compute_device_type = device["kind"]
    prefs.refresh_devices()
    used = 0
    for d in prefs.devices:
        d.use = d.type == device["kind"] and (not device["ids"] or d.id in device["ids"])
        used += d.use
    if not used:
        say("device_failed", error=f"no {device['kind']} device {device['ids'] or ''} here; Cycles sees: "
            + ", ".join(f"{d.type}:{d.id}" for d in prefs.devices))
        report.flush()
        os._exit(4)
if getattr(scene, "cycles", None) is not None:
    scene.cycles.device = "CPU" if device["kind"] == "CPU" else "GPU"
render = scene.render
render.use_persistent_data = True
render.use_multiview = False  # one image per frame, at the path we give
render.image_settings.file_format = "PNG"
render.use_file_extension = False
if spec["threads"]:
    render.threads_mode = "FIXED"
    render.threads = spec["threads"]
say("ready", risks=risks)
for frame in spec["frames"]:
    say("start", frame=frame)
    image = os.path.join(spec["out_dir"], f"frame_{frame:05d}.png")
    preview = os.path.join(spec["out_dir"], f"preview_{frame:05d}.png")
    scene.frame_set(frame)
    render.filepath = image + ".partial"
    bpy.ops.render.render(write_still=True)
    if not os.path.exists(image + ".partial"):
        say("frame_failed", frame=frame, error="Blender wrote no image (is there a camera?)")
        report.flush()
        os._exit(5)
    loaded = bpy.data.images.load(image + ".partial")
    width, height = loaded.size
    scale = max(1, max(width, height) // spec["preview_size"])
    loaded.scale(max(1, width // scale), max(1, height // scale))
    loaded.filepath_raw = preview + ".partial"
    loaded.file_format = "PNG"
    loaded.save()
    bpy.data.images.remove(loaded)
    os.replace(preview + ".partial", preview)
    os.replace(image + ".partial", image)
    say("frame", frame=frame)
say("done")
report.flush()
os._exit(0)  # skip Blender's teardown: nothing is left to save
'''

_OUT_OF_MEMORY = ("MemoryError", "failed to map segment", "Cannot allocate memory", "bad_alloc", "out of memory")


class RenderError(RuntimeError):
    """A chunk could not be rendered (bad scene, a frame over its time or memory cap twice). `frame` is
    the frame that failed (None when no frame is to blame, e.g. an inspection or a bad argument)."""

    def __init__(self, message: str, frame: int | None = None):
        super().__init__(message)
        self.frame = frame


@dataclass(frozen=True)
class RenderedFrame:
    frame: int
    image: Path
    preview: Path


@dataclass
class _Failure:
    frame: int
    reason: str
    final: bool = False  # retrying cannot help (the scene does not open, the device is missing)


def render_chunk(blend: Path, frames: Sequence[int], out_dir: Path, *, job_root: Path, device: str = "CPU",
                 limits: RenderLimits = DEFAULT_LIMITS, sandbox: bool = True,
                 on_frame: Callable[[RenderedFrame], None] | None = None, skip: Collection[int] = (),
                 hide: Sequence[Path] = (), on_hardened: Callable[[SceneRisks], None] | None = None,
                 kernel_cache: Path | None = None, python: str | None = None) -> list[RenderedFrame]:
    """Render `frames` (minus `skip`, those already done) of `blend` into `out_dir`.

    job_root: the read-only dir holding the scene's files (blend lies inside); hide: paths the sandbox
    must never show even if inside a mounted tree (the agent's key file and data dir); sandbox=False
    renders unsandboxed (development only, logged as a warning); on_frame: called as each frame is
    on disk; on_hardened: called once with what the scene contained and what was switched off;
    kernel_cache: a dir of the agent's where GPU drivers keep compiled kernels across processes
    (GPU renders only; mounted writable); python: the interpreter of another venv whose bpy renders
    (the job's Blender version, `--blender VERSION=PYTHON`), else this one's. Returns the frames
    rendered by this call, in order.
    """
    blend, out_dir, job_root = Path(blend).absolute(), Path(out_dir).absolute(), Path(job_root).absolute()
    if not blend.resolve().is_relative_to(job_root.resolve()):
        raise RenderError(f"the scene {blend} is not inside the job dir {job_root}")
    if job_root.resolve().is_relative_to(out_dir.resolve()):
        raise RenderError(f"the output dir {out_dir} must not contain the job dir {job_root} (the scene would "
                          "be writable)")
    settings = devices.render_settings(device)
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped = set(skip)
    pending = [f for f in dict.fromkeys(frames) if f not in skipped]
    done, failed, hardened = [], {}, []

    def finished(frame: int) -> None:
        rendered = RenderedFrame(frame, out_dir / f"frame_{frame:05d}.png", out_dir / f"preview_{frame:05d}.png")
        pending.remove(frame)
        done.append(rendered)
        if on_frame:
            on_frame(rendered)

    def ready(risks: SceneRisks) -> None:
        if not hardened:
            hardened.append(risks)
            if risks.switched_off:
                log.warning("switched off in %s before rendering: %s", blend.name, "; ".join(risks.switched_off))
            if on_hardened:
                on_hardened(risks)

    while pending:
        log.info("starting Blender for frames %s of %s", _ranges(pending), blend.name)
        spec = {"mode": "render", "blend": str(blend), "job_root": str(job_root), "frames": pending,
                "out_dir": str(out_dir), "device": settings, "threads": limits.threads,
                "preview_size": limits.preview_size}
        failure = _run(spec, limits, gpu=settings["kind"] != "CPU", sandbox=sandbox, hide=hide, python=python,
                       writable=out_dir, on_event={"frame": finished, "ready": ready}, kernel_cache=kernel_cache)
        if failure is None:
            continue
        failed[failure.frame] = failed.get(failure.frame, 0) + 1
        if failure.final or failed[failure.frame] >= 2:
            twice = "" if failure.final else " (twice)"
            raise RenderError(f"frame {failure.frame} failed{twice}: {failure.reason}; "
                              f"{len(done)} frame(s) of this chunk finished and are kept in {out_dir}", failure.frame)
        log.warning("frame %d failed, retrying it once in a new process: %s", failure.frame, failure.reason)
    return done


def inspect_scene(blend: Path, *, job_root: Path | None = None, sandbox: bool = True, hide: Sequence[Path] = (),
                  limits: RenderLimits = DEFAULT_LIMITS) -> SceneRisks:
    """What the scene contains that the renderer would switch off or the sandbox would contain,
    found by opening it (scripts disabled, sandboxed) without changing or rendering anything."""
    blend = Path(blend).absolute()
    job_root = Path(job_root).absolute() if job_root else blend.parent
    found: list[SceneRisks] = []
    with tempfile.TemporaryDirectory(prefix="inspect-") as scratch:
        spec = {"mode": "inspect", "blend": str(blend), "job_root": str(job_root), "frames": [], "out_dir": scratch,
                "device": {"kind": "CPU", "ids": []}, "threads": 1, "preview_size": 1}
        failure = _run(spec, limits, gpu=False, sandbox=sandbox, hide=hide, writable=Path(scratch),
                       on_event={"risks": found.append})
    if failure is not None or not found:
        raise RenderError(f"could not inspect {blend.name}: {failure.reason if failure else 'no answer'}")
    return found[0]


def render_frame(blend: Path, frame: int, out_dir: Path, *, job_root: Path | None = None,
                 limits: RenderLimits = DEFAULT_LIMITS, sandbox: bool = True, **kwargs) -> RenderedFrame:
    """One frame (the demo's path until it moves to render_chunk)."""
    blend = Path(blend)
    return render_chunk(blend, [frame], out_dir, job_root=job_root or blend.parent, limits=limits, sandbox=sandbox,
                        **kwargs)[0]


def _run(spec: dict, limits: RenderLimits, *, gpu: bool, sandbox: bool, hide: Sequence[Path], writable: Path,
         on_event: dict[str, Callable], kernel_cache: Path | None = None, python: str | None = None) -> _Failure | None:
    """One Blender process over spec["frames"]; None when all of them (or the inspection) finished."""
    frames = list(spec["frames"])
    first = frames[0] if frames else 0
    if sandbox:
        sandboxing.bwrap()  # refuse (SandboxUnavailable) before anything is created
    cap = MemoryCap(limits.memory_bytes, gpu=gpu)
    tmp = read_fd = write_fd = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix="render-"))
        read_fd, write_fd = os.pipe()
        spec = {**spec, "report_fd": write_fd, "rlimit_as": cap.rlimit_as}
        argv = [python or sys.executable, "-I", "-c", _CHILD, json.dumps(spec)]
        if sandbox:
            cache = kernel_cache if gpu else None
            argv = sandboxing.Sandbox([Path(spec["job_root"])], writable, tmp, hide=hide, gpu=gpu, kernel_cache=cache,
                                      extra_read_only=sandboxing.python_install(python)).command(argv)
            env = sandboxing.sandboxed_env(sandboxing.KERNEL_CACHE_ENV if cache else None)
        else:
            sandboxing.no_sandbox_warning("rendering")
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "TMPDIR": str(tmp), "PYTHONNOUSERSITE": "1"}
        log_path = tmp / "blender.log"
        current, timed_out, answered = None, None, False
        unfinished = set(frames)
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(cap.command(argv), stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, env=env, cwd=tmp, pass_fds=(write_fd,),
                                    start_new_session=True)
        os.close(write_fd)
        write_fd = None
        try:
            deadline = [time.monotonic() + limits.load_seconds]  # moved on as each frame starts
            for event in _events(read_fd, lambda: deadline[0]):
                if event is None:  # the deadline passed
                    _kill(proc, cap)
                    timed_out = limits.frame_seconds if current is not None else limits.load_seconds
                    break
                kind = event["event"]
                if kind == "ready":
                    on_event.get("ready", lambda _: None)(SceneRisks.from_child(event["risks"]))
                elif kind == "risks":
                    answered = True
                    on_event["risks"](SceneRisks.from_child(event["risks"]))
                elif kind == "start":
                    current, deadline[0] = event["frame"], time.monotonic() + limits.frame_seconds
                elif kind == "frame":
                    current = None
                    unfinished.discard(event["frame"])
                    on_event["frame"](event["frame"])
                elif kind == "open_failed":
                    return _Failure(first, f"Blender could not open {Path(spec['blend']).name} ({event['error']}): "
                                    "the file is damaged or from a newer Blender", final=True)
                elif kind in ("device_failed", "frame_failed"):
                    return _Failure(event.get("frame", first), event["error"], final=kind == "device_failed")
            returncode = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                _kill(proc, cap)
        # The frame to blame: the one in progress, else the next one this process had to render.
        frame = current if current is not None else next((f for f in frames if f in unfinished), first)
        if timed_out is not None:
            if current is not None:
                return _Failure(frame, f"took longer than {timed_out:g} s; raise the per-frame time cap or lower the "
                                       "scene's samples or resolution")
            return _Failure(frame, f"Blender did not open the scene within {timed_out:g} s; raise the load time cap "
                                   "or decline scenes this heavy")
        if spec["mode"] == "inspect" and answered or spec["mode"] == "render" and not unfinished:
            return None
        if returncode == 0:  # never expected: exited cleanly without finishing its frames
            return _Failure(frame, "Blender exited before finishing the frame")
        if sandbox and returncode > 128:  # bwrap exits with 128 + the signal that killed its child
            returncode = 128 - returncode
        return _Failure(frame, _why(returncode, log_path, cap))
    finally:
        for fd in (read_fd, write_fd):
            if fd is not None:
                os.close(fd)
        cap.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _events(read_fd: int, deadline: Callable[[], float]):
    """Parsed report lines until EOF; None once when deadline() passes."""
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(read_fd, selectors.EVENT_READ)
        while True:
            left = deadline() - time.monotonic()
            if left <= 0 or not selector.select(left):
                if deadline() - time.monotonic() <= 0:
                    yield None
                    return
                continue
            chunk = os.read(read_fd, 65536)
            if not chunk:
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    yield json.loads(line)
                except ValueError:  # not ours; the child writes only whole JSON lines
                    log.debug("ignored a report line that is not JSON: %r", line[:200])


def _kill(proc: subprocess.Popen, cap: MemoryCap) -> None:
    """The whole process group (bwrap and Blender share it), then anything left in its cgroup."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    cap.kill_all()
    proc.wait()


def _why(returncode: int, log_path: Path, cap: MemoryCap) -> str:
    """Why a Blender process died, and what the GPU owner can do about it."""
    output = log_path.read_text(errors="replace") if log_path.exists() else ""
    cap_mib = cap.limit >> 20
    oom = cap.oom_killed()
    if oom or (oom is None and (any(sign in output for sign in _OUT_OF_MEMORY) or returncode == -signal.SIGKILL)):
        return (f"Blender ran out of its memory cap ({cap_mib} MiB, enforced by {cap.method}): raise the memory "
                "cap if this machine has more, or decline scenes this large")
    if returncode < 0:
        return f"Blender was killed by signal {signal.Signals(-returncode).name}"
    tail = [line for line in output.strip().splitlines() if line.strip()][-5:]
    return f"Blender exited with status {returncode}: " + " | ".join(tail)


def _ranges(frames: Sequence[int]) -> str:
    return f"{frames[0]}-{frames[-1]}" if len(frames) > 1 and list(frames) == list(range(frames[0], frames[-1] + 1)) \
        else ", ".join(map(str, frames))
