"""build.py packages addon/ with the manifest, and Blender's own validator accepts the zip."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_build_produces_a_zip_blender_validates(tmp_path):
    # --no-wheels: downloading the bundled wheels needs the package registry; tests stay offline.
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--no-wheels", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Success parsing TOML" in result.stdout
    (zip_path,) = tmp_path.glob("render_farm_stacks-*.zip")
    names = set(zipfile.ZipFile(zip_path).namelist())
    assert {"blender_manifest.toml", "__init__.py", "stacks/transactions.py", "blender/__init__.py"} <= names
    assert not any("__pycache__" in n for n in names)
    manifest = zipfile.ZipFile(zip_path).read("blender_manifest.toml").decode()
    assert 'platforms = ["' in manifest
    assert not (tmp_path / "staging").exists()


def test_zip_with_wheels_installs_registers_and_uninstalls_in_blender(tmp_path):
    # The real zip: wheels for Python 3.11 and 3.13 (pip download; pip's cache makes reruns quick), installed
    # through bpy.ops.extensions.package_install_files by install_check.py. RENDER_FARM_BPY313_PYTHON=<a
    # python3.13 with bpy 5.1+> checks the Python 3.13 side as well (CI has only bpy 5.0 on 3.11).
    pythons = [sys.executable] + [p for p in [os.environ.get("RENDER_FARM_BPY313_PYTHON")] if p]
    command = [sys.executable, str(ROOT / "build.py"), "--out", str(tmp_path)]
    for python in pythons:
        command += ["--check-with", python]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (zip_path,) = tmp_path.glob("render_farm_stacks-*.zip")
    wheels = [n for n in zipfile.ZipFile(zip_path).namelist() if n.endswith(".whl")]
    for name in ("coincurve", "cffi"):  # compiled: one wheel per Python
        assert {tag for w in wheels if w.startswith(f"wheels/{name}-") for tag in ("cp311", "cp313") if tag in w} \
            == {"cp311", "cp313"}
    assert not any(w.startswith(("wheels/certifi", "wheels/idna", "wheels/numpy")) for w in wheels)  # Blender's own
    reports = [json.loads(line.split(": ", 1)[1]) for line in result.stdout.splitlines()
               if line.startswith("installed, registered and uninstalled")]
    assert len(reports) == len(pythons) and all(r["uninstalled"] for r in reports)
    assert "RENDERFARM_PT_sidebar" in reports[0]["classes"] and "RENDERFARM_AP_preferences" in reports[0]["classes"]


def test_addon_root_imports_without_blender():
    # The relay and provider import addon.stacks / addon.farm; that must not pull in bpy.
    code = "import sys, addon, addon.stacks.transactions; assert 'bpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_build_refuses_an_unknown_platform():
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--platform", "amiga"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice" in result.stderr
