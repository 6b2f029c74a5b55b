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
import hashlib
import json
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
    def __init__(self, devnet, relay_url: str, work: Path, scene: Path, frames: range):
        from addon.farm import exchange
        from addon.farm.contract import RenderFarm
        from addon.stacks.api import StacksClient

        accounts = {a["name"]: a for a in devnet.accounts()}
        self.requester = Party("requester", accounts["wallet_1"]["address"], accounts["wallet_1"]["private_key"])
        self.provider = Party("provider", accounts["wallet_2"]["address"], accounts["wallet_2"]["private_key"])
        self.farm = RenderFarm(StacksClient("devnet", api_url=devnet.url),
                               f"{accounts['deployer']['address']}.render-farm")
        self.relay_url, self.work, self.scene, self.frames = relay_url, work, scene, frames
        # Each side derives the pair's ECDH secret from its own key and the other's public key (same value).
        self.requester_shared = exchange.shared_secret(self.requester.private_key, self.provider.public_key)
        self.provider_shared = exchange.shared_secret(self.provider.private_key, self.requester.public_key)
        self.facts: list[tuple[str, str]] = []

    def _relay(self, party: Party):
        from addon.farm.relay_client import RelayClient

        return RelayClient(self.relay_url, party.private_key)

    def run(self) -> int:
        self.register_provider()
        job_id = self.submit()
        r = self.render_and_submit(job_id)
        self.review(job_id)
        self.claim(job_id, r)
        written = self.download(job_id)
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
        known = self.farm.get_provider(self.provider.address)
        if known and known.registered:
            _step(f"provider is registered already (reputation {known.reputation})")
            return
        _step("provider registers: 2 GPUs, 1000 µSTX per complexity unit, 10 STX bond")
        self.farm.register_provider(self.provider.private_key, gpu_count=2, gpu_memory=8192, benchmark_score=100,
                                    price_per_unit=1_000, bond=10 * STX)

    # ---- the requester submits --------------------------------------------------------------------

    def submit(self) -> int:
        from addon.farm import crypto, exchange
        from addon.farm.contract import Chunk

        _step("requester encrypts and uploads the scene (only the blobs the relay lacks)")
        with self._relay(self.requester) as rc:
            report = rc.upload_files([self.scene], crypto.requester_file_secret(self.requester.private_key))
            (uploaded,) = report.files
            manifest = json.dumps({"files": [{"path": self.scene.name, "blob": uploaded.blob_id,
                                              "key": uploaded.key.hex(), "sha256": uploaded.plaintext_sha256}],
                                   "frames": [self.frames.start, self.frames[-1]]}).encode()
            # The manifest key is bound to the job id, which the chain assigns: take the next one.
            job_id = self.farm.get_platform_stats().next_job_id
            sealed = crypto.encrypt_message(exchange.scene_manifest_key(self.requester_shared, job_id), manifest)
            reward = 2 * STX
            _step(f"requester creates job {job_id}: frames {self.frames.start}–{self.frames[-1]}, "
                  f"{reward / STX:g} STX escrowed")
            chunk = Chunk(self.provider.address, reward, complexity=300, estimated_duration=600,
                          scene_hash=hashlib.sha256(sealed).digest(), frame_start=self.frames.start,
                          frame_end=self.frames[-1])
            created = self.farm.create_job(self.requester.private_key, chunk, relay_url=self.relay_url)
            if created != job_id:
                raise SystemExit(f"the chain gave job id {created}, not {job_id}: another job came first; rerun")
            rc.put_scene_manifest(job_id, sealed, [uploaded.blob_id])
        self.facts.append(("scene upload", f"{report.bytes_uploaded:,} bytes sent "
                                           f"({report.blobs_uploaded} of {report.blobs_total} blobs were missing)"))
        self.facts.append(("escrow", f"{self.farm.get_totals().escrow / STX:.6f} STX held by the contract"))
        return job_id

    # ---- the provider renders ---------------------------------------------------------------------

    def render_and_submit(self, job_id: int) -> bytes:
        from addon.farm import crypto, exchange
        from server.provider.render import render_frame

        _step("provider starts the job, fetches and decrypts the scene")
        self.farm.start_job(self.provider.private_key, job_id)
        shared = self.provider_shared
        provider_dir = self.work / "provider" / f"job-{job_id}"
        with self._relay(self.provider) as pc:
            sealed, _ = pc.get_scene_manifest(job_id)
            manifest = json.loads(crypto.decrypt_bytes(exchange.scene_manifest_key(shared, job_id), sealed))
            scene_file = manifest["files"][0]
            local_scene = provider_dir / scene_file["path"]
            pc.download_file(scene_file["blob"], bytes.fromhex(scene_file["key"]), local_scene)
            if crypto.sha256_file(local_scene).hex() != scene_file["sha256"]:
                raise SystemExit("the scene the provider received differs from the requester's")

            rendered = []
            columns = (TextColumn("[cyan]rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console) as bar:
                task = bar.add_task("render", total=len(self.frames))
                started = time.monotonic()
                for done, frame in enumerate(self.frames, 1):
                    rendered.append(render_frame(local_scene, frame, provider_dir / "frames"))
                    eta = (time.monotonic() - started) / done * (len(self.frames) - done)
                    pc.post_progress(job_id, done, len(self.frames), eta_seconds=eta)
                    bar.advance(task)

            r = exchange.new_reveal_secret()
            _step("provider uploads frames (keys need its secret r) and previews (readable now)")
            report = pc.upload_files([f.image for f in rendered], exchange.frames_secret(shared, job_id, r))
            for f in rendered:
                pc.put_preview(job_id, f"frame-{f.frame:05d}.png",
                               crypto.encrypt_message(exchange.preview_key(shared, job_id), f.preview.read_bytes()))
            listing = [{"frame": f.frame, "blob": u.blob_id, "sha256": u.plaintext_sha256, "size": u.size}
                       for f, u in zip(rendered, report.files, strict=True)]
            sealed_result = crypto.encrypt_message(exchange.result_manifest_key(shared, job_id),
                                                   json.dumps({"frames": listing}).encode())
            pc.put_result_manifest(job_id, sealed_result, [u.blob_id for u in report.files])
        _step("provider submits the result hash and sha256(r) on chain")
        self.farm.submit_result(self.provider.private_key, job_id, exchange.result_hash(sealed_result),
                                exchange.commitment(r))
        self.facts.append(("render", f"{len(rendered)} frames by Blender, one sandboxed process each"))
        return r

    # ---- the requester reviews --------------------------------------------------------------------

    def review(self, job_id: int) -> None:
        from addon.farm import crypto, exchange

        shared = self.requester_shared
        with self._relay(self.requester) as rc:
            previews = rc.list_previews(job_id)
            opened = [crypto.decrypt_bytes(exchange.preview_key(shared, job_id), rc.get_preview(job_id, p["name"]))
                      for p in previews]
        if len(opened) != len(self.frames) or not all(p.startswith(b"\x89PNG") for p in opened):
            raise SystemExit("the previews are incomplete: a requester would reject this result")
        _step(f"requester opened {len(opened)} previews and approves")
        self.farm.approve_result(self.requester.private_key, job_id)

    # ---- the provider is paid ---------------------------------------------------------------------

    def claim(self, job_id: int, r: bytes) -> None:
        _step("provider claims: reveals r on chain, the reward moves to its earnings")
        self.farm.claim(self.provider.private_key, job_id, r)
        earned = self.farm.get_earnings(self.provider.address)
        self.farm.withdraw(self.provider.private_key, earned)
        provider = self.farm.get_provider(self.provider.address)
        self.facts.append(("payment", f"{earned / STX:g} STX to the provider for job {job_id} (withdrawn); "
                                      f"reputation {provider.reputation}, success rate "
                                      f"{self.farm.get_success_rate(self.provider.address)} %"))

    # ---- the requester gets the frames ------------------------------------------------------------

    def download(self, job_id: int) -> list[Path]:
        from addon.farm import crypto, exchange

        r = self.farm.get_job(job_id).secret
        shared = self.requester_shared
        secret = exchange.frames_secret(shared, job_id, r)
        out = self.work / "frames" / f"job-{job_id}"
        written = []
        _step("requester reads r from the chain and decrypts the frames")
        with self._relay(self.requester) as rc:
            sealed, _ = rc.get_result_manifest(job_id)
            listing = json.loads(crypto.decrypt_bytes(exchange.result_manifest_key(shared, job_id), sealed))["frames"]
            for item in listing:
                path = out / f"frame_{item['frame']:05d}.png"
                rc.download_file(item["blob"], crypto.file_key(secret, bytes.fromhex(item["sha256"])), path)
                if crypto.sha256_file(path).hex() != item["sha256"]:
                    raise SystemExit(f"frame {item['frame']} does not match the hash the provider committed to")
                written.append(path)
        self.facts.append(("frames", f"{len(written)} PNGs decrypted into {out}"))
        return written
