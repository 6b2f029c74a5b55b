"""The README's main-job command runs one job through the whole farm and leaves the frames on disk."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _demo(work: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", "demo", "--work", str(work), *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)


def test_demo_renders_through_the_farm_and_decrypts_frames(tmp_path):
    first = _demo(tmp_path, "--frames", "1-3")
    assert first.returncode == 0, first.stdout + first.stderr
    frames = sorted((tmp_path / "frames" / "job-1").glob("frame_*.png"))
    assert [f.name for f in frames] == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    for frame in frames:  # what the requester decrypted is exactly what the provider rendered
        assert frame.read_bytes() == (tmp_path / "provider" / "job-1" / "frames" / frame.name).read_bytes()
    assert "2 STX to the provider for job 1" in first.stdout and "reputation 110" in first.stdout
    # Again: the same chain and relay go on (job 2); the encrypted scene is already there, nothing is re-sent.
    second = _demo(tmp_path, "--frames", "2-2")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 bytes sent (0 of 1 blobs were missing)" in second.stdout
    assert "provider is registered already (reputation 110)" in second.stdout
    assert "for job 2" in second.stdout and "reputation 120" in second.stdout
    assert (tmp_path / "frames" / "job-2" / "frame_00002.png").exists()


def test_demo_help_and_bad_frames(tmp_path):
    result = subprocess.run([sys.executable, "-m", "server", "demo", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "--frames" in result.stdout
    bad = _demo(tmp_path, "--frames", "9-2")
    assert bad.returncode != 0 and "first frame comes after the last" in bad.stderr
