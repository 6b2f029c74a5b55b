"""The add-on in real Blender: installed from build.py's zip, every panel drawn in every state, the
wallet kept out of every file and log. The cases live in addon_ui_cases.py and run in a process of
their own, since bpy's global state must not leak into the rest of the suite."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from addon_ui_cases import IMPORT_WORDS  # noqa: E402  (the inner cases' public test wallet)


def test_addon_ui_in_blender(tmp_path):
    built = subprocess.run([sys.executable, str(ROOT / "build.py"), "--no-wheels", "--out", str(tmp_path / "dist")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (zip_path,) = (tmp_path / "dist").glob("*.zip")
    env = dict(os.environ, RENDER_FARM_TEST_ZIP=str(zip_path), BLENDER_USER_RESOURCES=str(tmp_path / "blender"))
    env.pop("RENDER_FARM_HOME", None)
    env.pop("RENDER_FARM_PASSPHRASE", None)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                             str(ROOT / "tests" / "addon_ui_cases.py")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert " passed" in log and "failed" not in log
    # Nothing printed (Blender's log, reports, tracebacks) holds the imported wallet's words.
    assert IMPORT_WORDS not in log and IMPORT_WORDS.split()[0] + " " + IMPORT_WORDS.split()[1] not in log
