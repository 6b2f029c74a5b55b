"""Each pre-flight problem kind is detected with a message saying what to do; a clean scene has none.

The scenes are built by tests/packing_problems.py in one bpy process.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "clean": [],
    "missing": [("missing", "error")],
    "absolute": [("absolute", "warning")],
    "outside": [("outside", "warning")],
    "cache_unbaked": [("cache", "error")],
    "cache_memory": [("cache", "warning")],
    "simulation_unbaked": [("cache", "error")],
    "fluid_unbaked": [("cache", "error")],
    "movie_output": [("movie_output", "error")],
    "file_output": [("file_output", "warning")],
    "output_path": [("output_path", "warning")],
    "frame_range": [("frame_range", "error")],
    "engine": [("engine", "error")],
    "feature": [("feature", "warning")],
    "computed": [("computed", "warning")],
    "unsaved": [("unsaved", "error")],
    "not_a_file": [("not_a_file", "error")],
    "fifo": [("not_a_file", "error")],
    "odd_name": [("odd_name", "error")],
    "collision": [("outside", "warning"), ("collision", "error")],
    "newer_blender": [("blender_version", "warning")],
    "older_blender": [("blender_version", "warning")],
    "driver": [("driver", "warning")],
    "driver_simple": [],
    "driver_in_node_tree": [("driver", "warning")],
    "addon_node_missing": [("addon_data", "error")],
    "addon_node_installed": [("addon_data", "error")],
    "freestyle_script": [("addon_data", "warning")],
    "text_module": [("addon_data", "warning")],
}
# Words of the fix each message must name, so the artist knows what to do next.
FIX = {"missing": "Find Missing Files", "absolute": "Make Paths Relative", "outside": "_external/",
       "cache_unbaked": "bake it to disk", "cache_memory": "Disk Cache", "simulation_unbaked": "Bake",
       "fluid_unbaked": "bake it", "movie_output": "PNG or OpenEXR", "file_output": "mute the node",
       "output_path": "//frames/frame_####", "frame_range": "end frame", "engine": "Cycles, EEVEE or Workbench",
       "feature": "Open Shading Language", "computed": "type the path", "unsaved": "save it",
       "not_a_file": "point it at the file", "fifo": "point it at the file", "odd_name": "rename the file",
       "collision": "rename one of them", "newer_blender": "pack it with that version",
       "older_blender": "Blender 4.2 or newer", "driver": "simple expression", "driver_in_node_tree": "Bake Action",
       "addon_node_missing": "not installed here", "addon_node_installed": "defined by the add-on",
       "freestyle_script": "Parameter Editor", "text_module": "never run scripts"}


# What the message must name (the data-block and property).
NAMES = {"driver": "Object 'Driven' > location[0] ",
         "driver_in_node_tree": "Material 'Pulse' > node tree > nodes[\"Emission\"].inputs[1].default_value is",
         "addon_node_missing": "Material 'Custom' > node 'Add-on group'",
         "freestyle_script": "view layer 'ViewLayer'", "text_module": "Text 'setup.py'"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("problems")
    subprocess.run([sys.executable, str(ROOT / "tests" / "packing_problems.py"), str(base / "cases"),
                    str(base / "report.json")], cwd=ROOT, check=True, capture_output=True, timeout=300)
    return json.loads((base / "report.json").read_text())


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_problem_kind(report, case):
    assert case in report, f"tests/packing_problems.py has no case {case}"
    if report[case] is None:
        pytest.skip(f"this Blender has no {case} feature")
    found = report[case]
    assert [(p["kind"], p["severity"]) for p in found] == EXPECTED[case]
    if case in NAMES:
        assert all(NAMES[case] in p["message"] for p in found), found
    for p in found:
        if p["kind"] == EXPECTED[case][-1][0]:  # the case's own kind (others have their own case)
            assert FIX[case] in p["message"], p["message"]
