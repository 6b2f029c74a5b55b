"""The extension registers and unregisters in real Blender (the bpy wheel)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_register_and_unregister_in_blender():
    # A separate process: bpy owns global state that must not leak into other tests.
    code = (
        "import bpy, addon\n"
        "addon.register()\n"
        "addon.unregister()\n"
        "print('blender', bpy.app.version_string)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "blender 5.0" in result.stdout
