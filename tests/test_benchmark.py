"""The provider benchmark and the one way every Blender child is started (real bpy, no timing asserts)."""

import json
import subprocess
import sys

import pytest

from addon.farm import benchmark, blender_process
from addon.farm.benchmark import BenchmarkError, predicted_seconds, run_benchmark, score_for

# Saves a scene whose text block would write MARKER on load if auto-execution were on.
_SCRIPTED_SCENE = r"""
import bpy, sys
blend, marker = sys.argv[-2], sys.argv[-1]
bpy.ops.wm.read_factory_settings(use_empty=True)
text = bpy.data.texts.new("on_load.py")
text.write(f"open({marker!r}, 'w').write('ran')\n")
text.use_module = True
bpy.ops.wm.save_as_mainfile(filepath=blend)
"""


def test_child_gets_its_arguments_and_opens_scenes_without_running_their_scripts(tmp_path):
    blend, marker = tmp_path / "scripted.blend", tmp_path / "marker"
    subprocess.run([sys.executable, "-I", "-c", _SCRIPTED_SCENE, str(blend), str(marker)], check=True,
                   capture_output=True, timeout=120)
    code = ("import json\nscene = open_blend(ARGS[0])\n"
            "print('OPENED ' + json.dumps({'args': ARGS, 'texts': len(__import__('bpy').data.texts)}))\n")
    result = blender_process.run(code, [str(blend), "two words", "--flag"], timeout=120)
    report = json.loads(blender_process.tagged_line(result, "OPENED"))
    assert report == {"args": [str(blend), "two words", "--flag"], "texts": 1}
    assert not marker.exists(), "the scene's text block ran"


def test_blender_binary_command_passes_code_and_args_after_the_separator():
    command = blender_process.BlenderProcess("/opt/blender/blender", True).command("print(1)", ["a", "--b"])
    assert command[:5] == ["/opt/blender/blender", "-b", "--factory-startup", "--python-exit-code", "1"]
    assert command[5] == "--python-expr" and command[6].endswith("print(1)") and "def open_blend" in command[6]
    assert command[7:] == ["--", "a", "--b"]
    venv = blender_process.BlenderProcess(sys.executable, False).command("print(1)", ["a"])
    assert venv[:3] == [sys.executable, "-I", "-c"] and venv[4:] == ["a"]
    assert blender_process.current() == blender_process.BlenderProcess(sys.executable, False)


def test_failing_child_raises_with_its_output():
    with pytest.raises(blender_process.BlenderProcessError, match="no such thing"):
        blender_process.run("raise SystemExit('no such thing')", timeout=60)


def test_benchmark_scores_this_machine_from_real_renders():
    result = run_benchmark("CPU", repeats=2)
    assert result.device == "CPU" and len(result.times) == 2 and all(t > 0 for t in result.times)
    assert result.score == score_for(result.seconds) >= 1
    assert result.blender.startswith("5.")


def test_benchmark_on_a_missing_device_says_what_to_do():
    with pytest.raises(BenchmarkError, match="no NOSUCH backend.*--device"):
        run_benchmark("NOSUCH", repeats=1)


def test_score_is_100_at_the_reference_and_scales_with_speed():
    assert score_for(benchmark.REFERENCE_SECONDS) == 100
    assert score_for(benchmark.REFERENCE_SECONDS / 2) == 200
    assert score_for(1e9) == 1
    assert predicted_seconds(60, 200) == 30 and predicted_seconds(60, 100) == 60
    with pytest.raises(ValueError):
        predicted_seconds(60, 0)
    with pytest.raises(ValueError):
        score_for(0)
