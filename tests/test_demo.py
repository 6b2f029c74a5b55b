"""The README's main-job command runs end to end (as far as the farm is built) and says what it did."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_and_hands_the_scene_over(tmp_path):
    command = [sys.executable, "-m", "server", "demo", "--work", str(tmp_path)]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "byte-identical" in first.stdout and "2.000000 STX held" in first.stdout
    assert (tmp_path / "provider" / "sample.blend").read_bytes() == (tmp_path / "sample.blend").read_bytes()
    # A second run on the same relay data sends nothing: the encrypted scene is already there.
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 bytes sent (0 of 1 blobs were missing)" in second.stdout


def test_demo_help():
    result = subprocess.run([sys.executable, "-m", "server", "demo", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "--work" in result.stdout
