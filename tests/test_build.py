"""build.py packages addon/ with the manifest, and Blender's own validator accepts the zip."""

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


def test_addon_root_imports_without_blender():
    # The relay and provider import addon.stacks / addon.farm; that must not pull in bpy.
    code = "import sys, addon, addon.stacks.transactions; assert 'bpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_build_refuses_an_unknown_platform():
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--platform", "amiga"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice" in result.stderr
