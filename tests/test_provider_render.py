"""The provider renders chunks of untrusted scenes in real Blender (sandboxed) without ever running the
scene's scripts, holds every frame to its caps, and resumes a chunk from its next unfinished frame."""

import subprocess
import sys
from pathlib import Path

import pytest

from server.provider.render import RenderError, RenderLimits, render_chunk, render_frame

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
