"""Provider agent overhead: its wall time for a chunk vs a plain bpy render of the same frames.

  agent     from the job seen on chain (the agent's `job_seen`) to `submit-result` mined: manifest,
            scene fetch and hash checks, start-job, one sandboxed Blender for the chunk, each frame
            encrypted and uploaded as it finishes (overlapping the render), result manifest, submit
  machinery CPU seconds of the agent process, the relay and the chain in the same window, over the
            plain render's CPU seconds: what the farm's own work takes from the render (steadier than
            wall time on a shared machine)
  baseline  one unsandboxed `python -c` with bpy that opens the same .blend and renders the same
            frames to PNG, start-up and scene load included

Both on the same machine in the same run, on the local chain and a loopback relay; goal ≤ 1.10.
Shared machines are noisy: compare the ratio of one run. Run: `python -m bench provider_overhead
[--frames 24] [--size 320x180] [--samples 16]`.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SCENE = r"""
import sys, bpy
from server.samples.make_sample_scene import build
out, width, height, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
build(out)
scene = bpy.context.scene
scene.render.resolution_x, scene.render.resolution_y = width, height
scene.cycles.samples = samples
bpy.ops.wm.save_as_mainfile(filepath=out)
"""

_PLAIN = r"""
import sys, bpy
blend, out, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bpy.ops.wm.open_mainfile(filepath=blend, load_ui=False, use_scripts=False)
scene = bpy.context.scene
scene.render.image_settings.file_format = "PNG"
scene.render.use_persistent_data = True
for frame in range(first, last + 1):
    scene.frame_set(frame)
    scene.render.filepath = f"{out}/frame_{frame:05d}.png"
    bpy.ops.render.render(write_still=True)
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds a running process (the relay, the chain) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plain_render(blend: Path, out: Path, frames: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one plain bpy process rendering the frames."""
    started, cpu = time.monotonic(), _children_cpu()
    subprocess.run([sys.executable, "-c", _PLAIN, str(blend), str(out), "1", str(frames)], cwd=ROOT, check=True,
                   capture_output=True, timeout=3600)
    return time.monotonic() - started, _children_cpu() - cpu


def agent_render(work: Path, blend: Path, frames: int) -> tuple[float, float, dict[str, float]]:
    """(wall, CPU seconds of the agent process, relay and chain) from job seen to submit-result mined."""
    from addon.farm.contract import RenderFarm
    from addon.farm.requester import Requester
    from addon.stacks import keys
    from addon.stacks.api import StacksClient
    from server.devnet import Devnet
    from server.provider.agent import AgentThread
    from server.relay.local import RelayProcess
    from tests.provider_fixtures import agent_config, submit

    class Account:
        def __init__(self, key):
            self.private_key, self.address = key, keys.address_from_private_key(key, "testnet")

    with Devnet() as devnet, RelayProcess(work / "relay", extra_args=["--node", devnet.url],
                                          env={"RELAY_LOG_LEVEL": "warning"}) as relay:
        accounts = {a["name"]: a for a in devnet.accounts()}
        farm = RenderFarm(StacksClient("devnet", api_url=devnet.url), f"{accounts['deployer']['address']}.render-farm")
        requester_account, provider = Account(accounts["wallet_1"]["private_key"]), Account(
            accounts["wallet_2"]["private_key"])
        config = agent_config(devnet, farm, work / "agent", poll_seconds=0.2)
        with AgentThread(config, provider.private_key) as run, \
                Requester(farm, relay.url, requester_account.private_key) as requester:
            run.wait_for("ready", timeout=120)
            job_id = submit(requester, provider, blend, (1, frames))
            run.wait_for("job_seen", job_id=job_id, timeout=120)
            pids = (relay.proc.pid, devnet._process.pid)
            # The sandboxed Blender's CPU does not reach RUSAGE_CHILDREN reliably (bwrap's pid namespace),
            # so this counts the farm's machinery only: agent process, relay and chain.
            cpu = _self_cpu() + sum(map(_process_cpu, pids))
            run.wait_for("result_submitted", job_id=job_id, timeout=3600)
            cpu = _self_cpu() + sum(map(_process_cpu, pids)) - cpu
        stamps = {}
        for event, _message, fields, at in run.events:
            if fields.get("job_id") == job_id and event not in stamps:
                stamps[event] = at
        return stamps["result_submitted"] - stamps["job_seen"], cpu, stamps


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench provider_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="320x180", help="resolution WxH (default 320x180)")
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="provider-bench-") as tmp:
        work = Path(tmp)
        blend = work / "scene" / "bench.blend"
        blend.parent.mkdir()
        subprocess.run([sys.executable, "-c", _SCENE, str(blend), str(width), str(height), str(args.samples)],
                       cwd=ROOT, check=True, capture_output=True, timeout=600)
        (work / "plain").mkdir()
        baseline, baseline_cpu = plain_render(blend, work / "plain", args.frames)
        agent, agent_cpu, stamps = agent_render(work, blend, args.frames)
        baseline_again, baseline_cpu_again = plain_render(blend, work / "plain", args.frames)  # noise: before+after
    base = min(baseline, baseline_again)
    base_cpu = min(baseline_cpu, baseline_cpu_again)
    first = stamps["frame_uploaded"] - stamps["job_seen"]
    print(f"frames {args.frames} at {width}x{height}, {args.samples} samples")
    print(f"plain bpy, one process      {baseline:7.2f} s / {baseline_again:7.2f} s wall (before / after), "
          f"{baseline_cpu:.1f} / {baseline_cpu_again:.1f} s CPU")
    print(f"agent, seen → submit mined  {agent:7.2f} s wall; first frame uploaded after {first:.2f} s")
    print(f"farm machinery CPU          {agent_cpu:7.2f} s (agent process + relay + chain, Blender excluded)")
    print(f"ratio agent / plain         {agent / base:7.3f}   wall, to the faster baseline (goal ≤ 1.10)")
    print(f"ratio agent / plain mean    {agent / ((baseline + baseline_again) / 2):7.3f}   wall")
    print(f"machinery CPU / plain CPU   {agent_cpu / base_cpu:7.3f}   (what the farm took from the render's cores)")
    return 0
