"""The provider renders chunks of untrusted scenes in real Blender (sandboxed) without ever running the
scene's scripts, holds every frame to its caps, and resumes a chunk from its next unfinished frame."""

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from server.provider import limits, sandbox
from server.provider.render import RenderError, RenderLimits, render_chunk, render_frame
from tests.provider_scenes import build, pixels

ROOT = Path(__file__).resolve().parent.parent

# A scene that tries to run code two ways: a text block registered to run on load, and a driver
# whose Python expression runs on evaluation. Both would create MARKER if Python ran.
EVIL_SCENE = r"""
import sys, bpy
blend, marker = sys.argv[-2], sys.argv[-1]
bpy.ops.wm.read_factory_settings(use_empty=True)
text = bpy.data.texts.new("on_load.py")
text.write(f"open({marker!r} + '.textblock', 'w').write('ran')\n")
text.use_module = True
bpy.ops.mesh.primitive_cube_add()
cube = bpy.context.active_object
fcurve = cube.driver_add("location", 0)
fcurve.driver.type = "SCRIPTED"
fcurve.driver.expression = f"__import__('pathlib').Path({marker!r} + '.driver').write_text('ran') or 0"
bpy.ops.object.camera_add(location=(0, -8, 0), rotation=(1.5708, 0, 0))
bpy.context.scene.camera = bpy.context.active_object
bpy.context.scene.render.resolution_x = bpy.context.scene.render.resolution_y = 32
bpy.context.scene.render.engine = "BLENDER_WORKBENCH"
bpy.ops.wm.save_as_mainfile(filepath=blend)
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("scene") / "sample.blend"
    subprocess.run([sys.executable, "-m", "server.samples.make_sample_scene", str(path)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    return path


def test_renders_a_frame_and_a_small_preview(sample, tmp_path):
    frame = render_frame(sample, 5, tmp_path)
    assert frame.image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert frame.preview.stat().st_size < frame.image.stat().st_size
    assert frame.image.stat().st_size > 1000


def test_scene_scripts_never_run(tmp_path):
    blend, marker = tmp_path / "evil.blend", tmp_path / "marker"
    subprocess.run([sys.executable, "-c", EVIL_SCENE, str(blend), str(marker)], check=True, capture_output=True,
                   timeout=300)
    render_frame(blend, 1, tmp_path / "out")
    assert not list(tmp_path.glob("marker*")), "a script embedded in the scene ran"
    # Control: the same file opened with scripts allowed does run them, so the test above means something.
    trusting = ("import bpy, sys; bpy.context.preferences.filepaths.use_scripts_auto_execute = True; "
                "bpy.ops.wm.open_mainfile(filepath=sys.argv[1], use_scripts=True); "
                "bpy.context.scene.frame_set(2)")
    subprocess.run([sys.executable, "-c", trusting, str(blend)], check=True, capture_output=True, timeout=300)
    assert list(tmp_path.glob("marker*")), "control failed: the scene's scripts did not run even when allowed"


def test_a_scene_that_does_not_open_in_time_is_stopped(sample, tmp_path):
    # 0.2 s is less than Blender needs even to start, on any machine.
    with pytest.raises(RenderError, match="frame 1 failed \\(twice\\): Blender did not open the scene within 0.2 s"):
        render_chunk(sample, [1, 2], tmp_path / "out", job_root=sample.parent, limits=RenderLimits(load_seconds=0.2))
    assert not list((tmp_path / "out").iterdir())


def test_a_process_over_its_memory_cap_is_stopped(sample, tmp_path):
    # 64 MiB is less than bpy needs to load, whether the cap is a cgroup or RLIMIT_AS.
    with pytest.raises(RenderError, match="frame 1 failed \\(twice\\): Blender ran out of its memory cap \\(64 MiB"):
        render_chunk(sample, [1], tmp_path / "out", job_root=sample.parent, limits=RenderLimits(memory_bytes=64 << 20))


def test_a_broken_file_gives_a_clear_error_at_once(tmp_path):
    broken = tmp_path / "broken.blend"
    broken.write_bytes(b"BLENDER-not really")
    with pytest.raises(RenderError, match="frame 1 failed: Blender could not open broken.blend .* damaged"):
        render_frame(broken, 1, tmp_path / "out")


# ---- chunks: one process, caps, restarts ------------------------------------------------------------

def _blender_children(out_dir: Path) -> list[int]:
    """PIDs of render processes working for out_dir (the inner Python, not bwrap or the cgroup shell)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if entry.name.isdigit() and argv[0] == sys.executable.encode() and str(out_dir).encode() in b" ".join(argv):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    return build("moving", tmp_path_factory.mktemp("moving") / "job" / "scene.blend")


def test_a_chunk_renders_in_one_process_like_single_frames(moving, tmp_path, caplog):
    caplog.set_level(logging.INFO, "server.provider.render")
    seen = []
    frames = render_chunk(moving, [1, 2, 3], tmp_path / "chunk", job_root=moving.parent, on_frame=seen.append)
    assert [f.frame for f in frames] == [1, 2, 3] and seen == frames
    assert [r.message for r in caplog.records].count("starting Blender for frames 1-3 of scene.blend") == 1
    assert sorted(p.name for p in (tmp_path / "chunk").iterdir()) == [
        f"{kind}_{n:05d}.png" for kind in ("frame", "preview") for n in (1, 2, 3)]
    # Persistent data between frames changes nothing: frame 3 equals frame 3 rendered alone.
    alone = render_frame(moving, 3, tmp_path / "alone", job_root=moving.parent)
    assert np.array_equal(pixels(alone.image), pixels(frames[2].image))
    assert not np.array_equal(pixels(frames[0].image), pixels(frames[2].image))  # the cube moved


def test_a_killed_process_resumes_from_the_next_unfinished_frame(moving, tmp_path, caplog):
    caplog.set_level(logging.INFO, "server.provider.render")
    out, kept = tmp_path / "out", {}

    def kill_after_first(frame):
        if frame.frame == 1:
            kept[1] = frame.image.stat().st_mtime_ns
            for pid in _blender_children(out):
                os.kill(pid, signal.SIGKILL)

    frames = render_chunk(moving, [1, 2, 3, 4], out, job_root=moving.parent, on_frame=kill_after_first)
    assert [f.frame for f in frames] == [1, 2, 3, 4]
    starts = [r.message for r in caplog.records if r.message.startswith("starting Blender")]
    assert starts == [f"starting Blender for frames {f}-4 of scene.blend" for f in (1, 2)]
    assert (out / "frame_00001.png").stat().st_mtime_ns == kept[1]  # not rendered again
    assert not list(out.glob("*.partial"))
    # The agent restarted after frames 1-4 were done resumes with skip: only the rest is rendered.
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = render_chunk(moving, range(1, 7), out, job_root=moving.parent, skip={1, 2, 3, 4})
    assert [f.frame for f in again] == [5, 6]
    assert all(p.stat().st_mtime_ns == before[p.name] for p in out.iterdir() if p.name in before)


def test_a_frame_over_its_time_cap_twice_ends_the_chunk_in_a_defined_state(tmp_path):
    slow = build("slow_frame", tmp_path / "job" / "scene.blend")  # frame 2: a million samples
    out, seen = tmp_path / "out", []
    groups = _render_cgroups()
    with pytest.raises(RenderError, match=r"frame 2 failed \(twice\): took longer than 2 s; raise the per-frame "
                                          r"time cap .*1 frame\(s\) of this chunk finished") as failed:
        render_chunk(slow, [1, 2, 3], out, job_root=slow.parent, limits=RenderLimits(frame_seconds=2),
                     on_frame=seen.append)
    assert failed.value.frame == 2
    # Defined state: frame 1 done and reported, nothing of frame 2 or 3 on disk, no process left behind.
    assert [f.frame for f in seen] == [1]
    assert sorted(p.name for p in out.iterdir()) == ["frame_00001.png", "preview_00001.png"]
    assert _blender_children(out) == []
    assert _render_cgroups() <= groups  # the per-process memory cgroups are removed


def _render_cgroups() -> set[Path]:
    owners = (limits._own_group(None), limits._own_group("memory"))
    return {group for own in owners if own for group in own.glob(f"renderfarm-{os.getpid()}-*")}


def test_a_gpu_that_is_not_there_fails_at_once_naming_what_cycles_sees(sample, tmp_path):
    # No GPU on this machine: the child's device code runs up to enabling devices and finds none.
    with pytest.raises(RenderError, match=r"frame 1 failed: no OPTIX device .*Cycles sees: CPU:CPU"):
        render_chunk(sample, [1], tmp_path / "out", job_root=sample.parent, device="OPTIX")


def test_without_bubblewrap_rendering_is_refused_unless_no_sandbox_is_explicit(sample, tmp_path, monkeypatch,
                                                                               caplog):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.bwrap.cache_clear()
    groups = _render_cgroups()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap.*--no-sandbox"):
            render_chunk(sample, [1], tmp_path / "out", job_root=sample.parent)
        assert _render_cgroups() <= groups  # refused before a cgroup (or temp dir) was made
        caplog.set_level(logging.WARNING, "server.provider.sandbox")
        frames = render_chunk(sample, [1], tmp_path / "out", job_root=sample.parent, sandbox=False)
        assert frames[0].image.exists()
        assert any("RENDERING WITHOUT A SANDBOX (--no-sandbox)" in r.message for r in caplog.records)
    finally:
        monkeypatch.undo()
        sandbox.bwrap.cache_clear()


def test_a_bubblewrap_that_cannot_make_namespaces_is_refused_with_its_reason(sample, tmp_path, monkeypatch):
    fake = tmp_path / "bwrap"  # what bwrap says on a kernel that forbids user namespaces
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: str(fake))
    sandbox.bwrap.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match=r"cannot create its sandbox here \(bwrap: No "
                                                             r"permissions to create new namespace\).*--no-sandbox"):
            render_chunk(sample, [1], tmp_path / "out", job_root=sample.parent)
    finally:
        monkeypatch.undo()
        sandbox.bwrap.cache_clear()


def test_another_blender_python_renders_inside_the_sandbox(sample, tmp_path):
    """--blender VERSION=PYTHON: the chunk renders with the mapped venv's interpreter and only that venv is
    mounted in the sandbox. The stand-in venv holds this venv's packages as hard links (no copy of bpy);
    its sitecustomize leaves a marker in the one writable dir naming the interpreter that ran."""
    import shutil
    import site

    other = tmp_path / "other-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True, timeout=120)
    packages = next(other.glob("lib/python*/site-packages"))
    (mine,) = [p for p in site.getsitepackages() if Path(p, "bpy").exists()]
    shutil.copytree(mine, packages, copy_function=os.link, dirs_exist_ok=True)
    (packages / "sitecustomize.py").write_text(
        "import json, pathlib, sys\n"
        "spec = json.loads(sys.argv[-1]) if len(sys.argv) > 1 and sys.argv[-1].startswith('{') else None\n"
        "if spec and spec.get('out_dir'):\n"
        "    pathlib.Path(spec['out_dir'], 'python.txt').write_text(sys.prefix)\n")
    out = tmp_path / "out"
    (frame,) = render_chunk(sample, [1], out, job_root=sample.parent, python=str(other / "bin" / "python"))
    assert frame.image.read_bytes().startswith(b"\x89PNG")
    assert (out / "python.txt").read_text() == str(other)
    with pytest.raises(sandbox.SandboxUnavailable, match="check --blender VERSION=PYTHON"):
        render_chunk(sample, [1], out, job_root=sample.parent, python=str(tmp_path / "no-such-python"))
