"""The main job on the embedded default: a local chain, a relay, a requester and a provider on this machine.

Everything is real: render-farm.clar on the local chain (simnet), the relay on loopback, Blender (the
bpy wheel) rendering each frame in its own sandboxed process. The flow is the farm's fair exchange:

  requester  encrypts + uploads the scene, escrows the reward with create-job (manifest hash on chain)
  provider   starts the job, decrypts the scene, renders, uploads frames encrypted under keys that need
             its secret r, previews the requester can open now, submits (result hash, sha256(r))
  requester  opens the previews and approves
  provider   claims: reveals r on chain, the reward moves to its earnings, it withdraws
  requester  reads r from the chain, derives the frame keys, downloads and decrypts the frames to disk
"""

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
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


@dataclass
class Party:
    name: str
    address: str
    private_key: str

    @property
    def public_key(self) -> bytes:
        from addon.stacks import keys

        return keys.public_key_from_private_key(self.private_key)


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
    """Narrates one job: the requester's flow (addon.farm.requester) and the provider's
    (server.provider.flow) on one machine, each with its own wallet."""

    def __init__(self, devnet, relay_url: str, work: Path, scene: Path, frames: range):
        from addon.farm.contract import RenderFarm
        from addon.farm.requester import Requester
        from addon.stacks.api import StacksClient
        from server.provider.flow import ProviderFlow

        accounts = {a["name"]: a for a in devnet.accounts()}
        self.requester_key = accounts["wallet_1"]["private_key"]
        self.provider_key = accounts["wallet_2"]["private_key"]
        self.provider_address = accounts["wallet_2"]["address"]
        self.farm = RenderFarm(StacksClient("devnet", api_url=devnet.url),
                               f"{accounts['deployer']['address']}.render-farm")
        self.work, self.scene, self.frames = work, scene, frames
        self.requester = Requester(self.farm, relay_url, self.requester_key, on_event=_narrate)
        self.provider = ProviderFlow(self.farm, relay_url, self.provider_key, work / "provider", on_event=_narrate)
        self.facts: list[tuple[str, str]] = []

    def run(self) -> int:
        from addon.farm.errors import FarmError

        try:
            self.register_provider()
            job_id = self.submit()
            r = self.render_and_submit(job_id)
            self.review(job_id)
            self.claim(job_id, r)
            written = self.download(job_id)
        except FarmError as error:
            console.print(f"[bold red]demo stopped:[/] {error}")
            return 1
        finally:
            self.requester.close()
            self.provider.close()
        table = Table(title="Render farm demo: one job through the farm")
        table.add_column("what")
        table.add_column("result")
        for what, result in self.facts:
            table.add_row(what, result)
        console.print(table)
        console.print(f"[bold green]{len(written)} frames on disk in {written[0].parent}[/]")
        return 0

    # ---- the provider joins ----------------------------------------------------------------------

    def register_provider(self) -> None:
        known = self.farm.get_provider(self.provider_address)
        if known and known.registered:
            _step(f"provider is registered already (reputation {known.reputation})")
            return
        _step("provider registers: 2 GPUs, 1000 µSTX per complexity unit, 10 STX bond")
        self.farm.register_provider(self.provider_key, gpu_count=2, gpu_memory=8192, benchmark_score=100,
                                    price_per_unit=1_000, bond=10 * STX)

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

    def render_and_submit(self, job_id: int) -> bytes:
        from addon.farm import exchange
        from server.provider.render import render_frame

        self.provider.start(job_id)
        scene = self.provider.fetch_scene(job_id)
        r = exchange.new_reveal_secret()
        frames = scene.manifest.frames.frames()
        published = []
        out = self.work / "provider" / f"job-{job_id}" / "frames"
        columns = (TextColumn("[cyan]rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("render", total=len(frames))
            started = time.monotonic()
            for done, frame in enumerate(frames, 1):
                rendered = render_frame(scene.blend, frame, out)
                published.append(self.provider.publish_frame(job_id, rendered, r))
                eta = (time.monotonic() - started) / done * (len(frames) - done)
                self.provider.post_progress(job_id, done, len(frames), eta_seconds=eta)
                bar.advance(task)
        _step("provider submits the result hash and sha256(r) on chain")
        self.provider.finish(job_id, published, r)
        self.facts.append(("render", f"{len(published)} frames by Blender, each uploaded as it finished"))
        return r

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

    def claim(self, job_id: int, r: bytes) -> None:
        _step("provider claims: reveals r on chain, the reward moves to its earnings")
        self.provider.claim(job_id, r)
        earned = self.farm.get_earnings(self.provider_address)
        self.farm.withdraw(self.provider_key, earned)
        provider = self.farm.get_provider(self.provider_address)
        self.facts.append(("payment", f"{earned / STX:g} STX to the provider for job {job_id} (withdrawn); "
                                      f"reputation {provider.reputation}, success rate "
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
