"""The memory cap of a render process: a cgroup where the machine offers one, RLIMIT_AS for CPU renders
otherwise, and no address-space cap ever on a GPU render (the driver reserves far more than it uses)."""

import logging
import subprocess
import sys

import pytest

from server.provider.limits import MemoryCap

ALLOCATE = "x = bytearray(300 << 20); x[::4096] = b'1' * len(x[::4096]); print('allocated')"


def _no_cgroups(monkeypatch):
    for method in ("_cgroup2", "_systemd", "_cgroup1"):
        monkeypatch.setattr(MemoryCap, method, lambda self: False)


def test_a_cgroup_cap_kills_a_process_over_it_and_says_so():
    cap = MemoryCap(100 << 20, gpu=True)
    try:
        if cap.method == "none":
            pytest.skip("this machine offers no cgroup memory controller to the agent (see docs/provider.md)")
        over = subprocess.run(cap.command([sys.executable, "-c", ALLOCATE]), capture_output=True, text=True,
                              timeout=60)
        assert over.returncode == -9 and "allocated" not in over.stdout
        assert cap.oom_killed() in (True, None)  # None: systemd scopes are gone when we ask
        assert cap.rlimit_as is None  # a cgroup, not an address-space cap: GPU drivers keep working
    finally:
        cap.close()
    assert cap.group is None
    roomy = MemoryCap(600 << 20, gpu=False)
    try:
        fits = subprocess.run(roomy.command([sys.executable, "-c", ALLOCATE]), capture_output=True, text=True,
                              timeout=60)
        assert fits.stdout.strip() == "allocated" and roomy.oom_killed() in (False, None)
    finally:
        roomy.close()


def test_without_cgroups_a_cpu_render_gets_rlimit_as_and_a_gpu_render_no_cap(monkeypatch, caplog):
    _no_cgroups(monkeypatch)
    cpu = MemoryCap(1 << 30, gpu=False)
    assert (cpu.method, cpu.rlimit_as) == ("rlimit", 1 << 30)
    assert cpu.command(["blender"]) == ["blender"]
    with caplog.at_level(logging.WARNING, "server.provider.limits"):
        gpu = MemoryCap(1 << 30, gpu=True)
    assert (gpu.method, gpu.rlimit_as) == ("none", None)
    assert "runs without a memory cap (RLIMIT_AS would break the GPU driver)" in caplog.text


def test_the_rlimit_fallback_stops_a_render_over_its_cap(monkeypatch, tmp_path):
    from server.provider.render import RenderError, RenderLimits, render_chunk
    from tests.provider_scenes import build

    _no_cgroups(monkeypatch)
    blend = build("moving", tmp_path / "job" / "scene.blend")
    with pytest.raises(RenderError, match=r"frame 1 failed \(twice\): Blender ran out of its memory cap "
                                          r"\(64 MiB, enforced by rlimit\)"):
        render_chunk(blend, [1], tmp_path / "out", job_root=blend.parent, limits=RenderLimits(memory_bytes=64 << 20))
