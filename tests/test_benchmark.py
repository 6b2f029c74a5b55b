"""The provider benchmark and the one way every Blender child is started (real bpy, no timing asserts)."""

import json
import subprocess
import sys

import pytest

from addon.farm import benchmark, blender_process
from addon.farm.benchmark import BenchmarkError, predicted_seconds, run_benchmark, score_for
from tests.test_provider_render import EVIL_SCENE  # a text block and a driver that write a marker if run


def test_child_gets_its_arguments_and_opens_scenes_without_running_their_scripts(tmp_path):
    blend, marker = tmp_path / "scripted.blend", tmp_path / "marker"
    subprocess.run([sys.executable, "-I", "-c", EVIL_SCENE, str(blend), str(marker)], check=True,
                   capture_output=True, timeout=120)
    code = ("import json\nscene = open_blend(ARGS[0])\n"
            "scene.frame_set(2)\n"
            "print('OPENED ' + json.dumps({'args': ARGS, 'texts': len(__import__('bpy').data.texts)}))\n")
    result = blender_process.run(code, [str(blend), "two words", "--flag"], timeout=120)
    report = json.loads(blender_process.tagged_line(result, "OPENED"))
    assert report == {"args": [str(blend), "two words", "--flag"], "texts": 1}
    assert not list(tmp_path.glob("marker*")), "the scene's text block or driver ran"


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


def test_the_score_is_measured_once_and_kept_for_this_machine(tmp_path):
    from addon.farm import benchmark_cache

    runs = []

    def measure(device):
        runs.append(device)
        return run_benchmark(device, repeats=1)

    score, kept = benchmark_cache.local_score(tmp_path, measure=measure)
    assert not kept and score >= 1 and runs == ["CPU"]
    assert benchmark_cache.local_score(tmp_path, measure=measure) == (score, True) and runs == ["CPU"]
    assert benchmark_cache.local_score(tmp_path, refresh=True, measure=measure)[1] is False and len(runs) == 2
    record = json.loads((tmp_path / benchmark_cache.FILE_NAME).read_text())
    # Another machine, another Blender, an old score or a damaged file: measured again.
    for change in ({"machine": {**record["machine"], "cpu": "another CPU"}},
                   {"machine": {**record["machine"], "launcher_mtime_ns": 1}},
                   {"measured_at": record["measured_at"] - benchmark_cache.MAX_AGE_SECONDS - 1}):
        (tmp_path / benchmark_cache.FILE_NAME).write_text(json.dumps({**record, **change}))
        assert benchmark_cache.kept_score(tmp_path) is None
    (tmp_path / benchmark_cache.FILE_NAME).write_text("{not json")
    assert benchmark_cache.kept_score(tmp_path) is None
    assert benchmark_cache.kept_score(tmp_path / "nowhere") is None
