"""The main job on the embedded default: a local chain, a relay, a requester and a provider on this machine.

Everything is real: render-farm.clar on the local chain (simnet), the relay on loopback, Blender (the
bpy wheel) rendering the chunk in one sandboxed process. The flow is the farm's fair exchange:

  requester  encrypts + uploads the scene, escrows the reward with create-job (manifest hash on chain)
  provider   (an agent, as a GPU owner runs it) sees the job on chain, decrypts and checks the scene,
             starts the job, renders the chunk, uploads frames encrypted under keys that need its
             secret r and previews the requester can open now, submits (result hash, sha256(r))
  requester  opens the previews and approves
  provider   claims: reveals r on chain, the reward moves to its earnings, it withdraws
  requester  reads r from the chain, derives the frame keys, downloads and decrypts the frames to disk
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
console = Console()
STX = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "demo",
                        help="working directory: sample scene, relay data, provider files, frames (default: var/demo)")
    parser.add_argument("--frames", default="1-24", help="frame range to render, FIRST-LAST (default: 1-24)")
    parser.add_argument("--fresh", action="store_true",
                        help="start a new chain and relay instead of continuing the ones kept in --work")


def _step(text: str) -> None:
    console.print(f"[bold cyan]==>[/] {text}")


def _frame_range(text: str) -> range:
    try:
        first, _, last = text.partition("-")
        frames = range(int(first), int(last or first) + 1)
    except ValueError:
        raise SystemExit(f"--frames must look like 1-24, got {text!r}") from None
    if not frames:
        raise SystemExit(f"--frames {text}: the first frame comes after the last")
    return frames


def _sample_scene(work: Path) -> Path:
    scene = work / "sample.blend"
    if not scene.exists():
        _step("building the sample scene with Blender (bpy)")
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "server.samples.make_sample_scene", str(scene)], cwd=ROOT, check=True,
                       capture_output=True, timeout=300)
    return scene


def _start_chain(work: Path, fresh: bool):
    """The chain and the relay data live side by side in `work` and must match: keep or renew both."""
    from server.devnet import Devnet, DevnetError

    if fresh:
        for part in ("chain", "relay"):
            shutil.rmtree(work / part, ignore_errors=True)
    try:
        return Devnet(state_dir=work / "chain").start()
    except DevnetError as error:
        if "--reset" not in str(error):
            raise
        console.print("[yellow]the contract changed since the kept chain was made: starting a new chain and relay[/]")
        return _start_chain(work, fresh=True)


def run(args: argparse.Namespace) -> int:
    from server.relay.local import RelayProcess

    frames = _frame_range(args.frames)
    work: Path = args.work
    scene = _sample_scene(work)
    _step(f"starting the local chain (simnet) with render-farm.clar deployed, kept in {work / 'chain'}")
    devnet = _start_chain(work, args.fresh)
    try:
        _step("starting the relay (it only ever sees ciphertext)")
        quiet = {"RELAY_LOG_LEVEL": "warning"}
        with RelayProcess(work / "relay", extra_args=["--node", devnet.url], env=quiet) as relay:
            return Demo(devnet, relay.url, work, scene, frames).run()
    finally:
        devnet.stop()


class Demo:
    """Narrates one job: the requester's flow (addon.farm.requester) and a provider agent
    (server.provider.agent, the daemon a GPU owner runs) on one machine, each with its own wallet."""

    def __init__(self, devnet, relay_url: str, work: Path, scene: Path, frames: range):
        from addon.farm.contract import RenderFarm
        from addon.farm.requester import Requester
        from addon.stacks.api import StacksClient
        from server.provider.agent import AgentConfig, AgentThread

        accounts = {a["name"]: a for a in devnet.accounts()}
        self.requester_key = accounts["wallet_1"]["private_key"]
        self.provider_key = accounts["wallet_2"]["private_key"]
        self.provider_address = accounts["wallet_2"]["address"]
        self.farm = RenderFarm(StacksClient("devnet", api_url=devnet.url),
                               f"{accounts['deployer']['address']}.render-farm")
        self.work, self.scene, self.frames = work, scene, frames
        self.requester = Requester(self.farm, relay_url, self.requester_key, on_event=_narrate)
        config = AgentConfig(node_url=devnet.url, contract_id=self.farm.contract_id, data_dir=work / "provider",
                             relays=(relay_url,), gpu_count=2, price_per_unit=1_000, bond=10 * STX,
                             withdraw_above=1)  # withdraw each reward as soon as it is claimed
        self.agent = AgentThread(config, self.provider_key, on_event=self._agent_said)
        self.bar: Progress | None = None
        self.facts: list[tuple[str, str]] = []

    def _agent_said(self, event: str, message: str, fields: dict) -> None:
        """The agent's events, narrated (its uploads drive the progress bar)."""
        if event == "frame_uploaded" and self.bar is not None:
            self.bar.update(self.bar.task_ids[0], completed=fields["done"])
        elif event in ("registering", "job_started", "result_submitted", "claimed", "withdrawn", "job_declined",
                       "job_failed", "node_unreachable", "relay_unreachable"):
            _step(f"provider agent: {message}")

    def run(self) -> int:
        from addon.farm.errors import FarmError

        try:
            known = self.farm.get_provider(self.provider_address)
            if known and known.registered:
                _step(f"provider is registered already (reputation {known.reputation})")
            with self.agent:
                self.agent.wait_for("ready", timeout=120)
                job_id = self.submit()
                self.render_and_submit(job_id)
                self.review(job_id)
                self.claim(job_id)
            written = self.download(job_id)
        except FarmError as error:
            console.print(f"[bold red]demo stopped:[/] {error}")
            return 1
        finally:
            self.requester.close()
        table = Table(title="Render farm demo: one job through the farm")
        table.add_column("what")
        table.add_column("result")
        for what, result in self.facts:
            table.add_row(what, result)
        console.print(table)
        console.print(f"[bold green]{len(written)} frames on disk in {written[0].parent}[/]")
        return 0

    # ---- the requester submits --------------------------------------------------------------------

    def submit(self) -> int:
        from addon.farm.manifest import FrameRange, RenderSettings
        from addon.farm.requester import ChunkPlan, SubmitRequest

        frames = FrameRange(self.frames.start, self.frames[-1])
        reward = 2 * STX
        request = SubmitRequest(
            files={self.scene.name: self.scene}, main_blend=self.scene.name,
            blender_version=_blender_version(), render=RenderSettings(file_format="PNG"),
            chunks=[ChunkPlan(self.provider_address, frames, reward, complexity=300, estimated_duration=600)])
        submission = self.requester.submit(request)
        (job,) = submission.jobs
        sent = submission
        self.facts.append(("scene upload", f"{sent.bytes_uploaded:,} bytes sent "
                                           f"({sent.blobs_uploaded} of {sent.blobs_total} blobs were missing)"))
        self.facts.append(("escrow", f"{self.farm.get_totals().escrow / STX:.6f} STX held by the contract "
                                     f"(job {job.job_id}: {reward / STX:g} STX)"))
        return job.job_id

    # ---- the provider renders ---------------------------------------------------------------------

    def render_and_submit(self, job_id: int) -> None:
        """The agent sees the job on chain, fetches and checks the scene, renders the chunk in one sandboxed
        Blender, uploads each frame as it finishes and submits; the demo only watches."""
        columns = (TextColumn("[cyan]rendering + uploading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            bar.add_task("render", total=len(self.frames))
            self.bar = bar
            try:
                self.agent.wait_for("result_submitted", job_id=job_id, timeout=3600)
            finally:
                self.bar = None
        self.facts.append(("render", f"{len(self.frames)} frames by one sandboxed Blender process, each uploaded "
                                     "as it finished"))

    # ---- the requester reviews --------------------------------------------------------------------

    def review(self, job_id: int) -> None:
        from addon.farm.errors import IntegrityError

        review = self.requester.review(job_id)
        if not review.complete or not all(p.startswith(b"\x89PNG") for p in review.previews.values()):
            raise IntegrityError(f"the result lacks frames {review.missing_frames} or its previews are not images: "
                                 "a requester would reject it")
        _step(f"requester opened {len(review.previews)} previews and approves")
        self.requester.approve(job_id)

    # ---- the provider is paid ---------------------------------------------------------------------

    def claim(self, job_id: int) -> None:
        claimed = self.agent.wait_for("claimed", job_id=job_id, timeout=120)
        self.agent.wait_for("withdrawn", timeout=120)
        provider = self.farm.get_provider(self.provider_address)
        self.facts.append(("payment", f"{claimed[2]['reward'] / STX:g} STX to the provider for job {job_id} "
                                      f"(withdrawn); reputation {provider.reputation}, success rate "
                                      f"{self.farm.get_success_rate(self.provider_address)} %"))

    # ---- the requester gets the frames ------------------------------------------------------------

    def download(self, job_id: int) -> list[Path]:
        out = self.work / "frames" / f"job-{job_id}"
        self.requester.wait_for_reveal(job_id, timeout=30)
        written = self.requester.download(job_id, str(out / "frame_#####"))
        self.facts.append(("frames", f"{len(written)} PNGs decrypted into {out}"))
        return written


def _blender_version() -> str:
    """The Blender the job asks for: the bpy wheel this machine renders with (no need to import it here)."""
    from importlib.metadata import version

    return version("bpy")


def _narrate(event) -> None:
    """The flows' events as the demo's narration (upload and render progress have their own bars)."""
    from addon.farm import events

    if isinstance(event, events.Step):
        _step(event.text)
    elif isinstance(event, events.JobsCreated):
        _step(f"job(s) {', '.join(map(str, event.job_ids))} created on chain (batch {event.batch_id})")
