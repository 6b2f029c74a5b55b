"""The main job on the embedded default: a local chain, a relay, a requester and a provider on this machine.

What runs today, for real: the local chain with render-farm.clar, the relay, provider registration with
a bond, the sample scene encrypted and uploaded (only missing blobs), its manifest encrypted for the
chosen provider and committed on chain by `create-job` with the reward escrowed, and the provider
fetching and decrypting the scene byte for byte. Rendering by the provider agent and frames on disk
come with the provider-agent issue; until then the demo stops after the hand-over and says so.
"""

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
console = Console()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "demo",
                        help="working directory for the scene, relay data and downloads (default: var/demo)")


def _step(text: str) -> None:
    console.print(f"[bold cyan]==>[/] {text}")


def _sample_scene(work: Path) -> Path:
    scene = work / "sample.blend"
    if not scene.exists():
        _step("building the sample scene with Blender (bpy)")
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "server.samples.make_sample_scene", str(scene)], cwd=ROOT, check=True,
                       capture_output=True, timeout=300)
    return scene


def run(args: argparse.Namespace) -> int:
    from addon.farm import crypto
    from addon.farm.contract import Chunk, RenderFarm
    from addon.farm.relay_client import RelayClient
    from addon.stacks import keys
    from addon.stacks.api import StacksClient
    from server.devnet import Devnet
    from server.relay.local import RelayProcess

    work: Path = args.work
    scene = _sample_scene(work)
    _step("starting the local chain (simnet) and deploying render-farm.clar")
    with Devnet() as devnet:
        accounts = {a["name"]: a for a in devnet.accounts()}
        requester, provider = accounts["wallet_1"], accounts["wallet_2"]
        client = StacksClient("devnet", api_url=devnet.url)
        farm = RenderFarm(client, f"{accounts['deployer']['address']}.render-farm")
        _step("starting the relay (sees ciphertext only)")
        quiet = {"RELAY_LOG_LEVEL": "warning"}
        with RelayProcess(work / "relay", extra_args=["--node", devnet.url], env=quiet) as relay:
            _step("provider registers: 2 GPUs, 10 STX bond")
            farm.register_provider(provider["private_key"], gpu_count=2, gpu_memory=8192, benchmark_score=100,
                                   price_per_unit=1_000, bond=10_000_000)

            _step("requester encrypts and uploads the scene (only blobs the relay lacks)")
            secret = crypto.requester_file_secret(requester["private_key"])
            with RelayClient(relay.url, requester["private_key"]) as rc:
                report = rc.upload_files([scene], secret)
                (uploaded,) = report.files
                manifest = json.dumps({"files": [{"path": scene.name, "blob": uploaded.blob_id,
                                                  "key": uploaded.key.hex(), "sha256": uploaded.plaintext_sha256}],
                                       "frames": [1, 24]}).encode()
                job_id = farm.get_platform_stats().next_job_id
                provider_public = keys.public_key_from_private_key(provider["private_key"])
                shared = crypto.ecdh_shared_secret(requester["private_key"], provider_public)
                sealed = crypto.encrypt_message(crypto.job_key(shared, job_id, "scene-manifest"), manifest)
                _step(f"requester creates job {job_id} on chain: 24 frames, 2 STX escrowed")
                created = farm.create_job(requester["private_key"], Chunk(provider["address"], 2_000_000, 300, 600,
                                                                        hashlib.sha256(sealed).digest(), 1, 24),
                                          relay_url=relay.url)
                if created != job_id:
                    raise SystemExit(f"job id moved from {job_id} to {created}: another requester was faster; rerun")
                rc.put_scene_manifest(job_id, sealed, [uploaded.blob_id])

            _step("provider starts the job, fetches and decrypts the scene")
            farm.start_job(provider["private_key"], job_id)
            with RelayClient(relay.url, provider["private_key"]) as pc:
                sealed_again, _ = pc.get_scene_manifest(job_id)
                requester_public = keys.public_key_from_private_key(requester["private_key"])
                shared = crypto.ecdh_shared_secret(provider["private_key"], requester_public)
                files = json.loads(crypto.decrypt_bytes(crypto.job_key(shared, job_id, "scene-manifest"),
                                                        sealed_again))["files"]
                received = work / "provider" / files[0]["path"]
                pc.download_file(files[0]["blob"], bytes.fromhex(files[0]["key"]), received)
            same = hashlib.sha256(received.read_bytes()).hexdigest() == files[0]["sha256"]

            job = farm.get_job(job_id)
            table = Table(title="Render farm demo")
            table.add_column("what")
            table.add_column("value")
            table.add_row("job", f"{job_id}: {job.status.name.lower()}, frames {job.frame_start}–{job.frame_end}")
            table.add_row("escrow", f"{farm.get_totals().escrow / 1e6:.6f} STX held by the contract")
            sent = (f"{report.bytes_uploaded:,} bytes sent "
                    f"({report.blobs_uploaded} of {report.blobs_total} blobs were missing)")
            table.add_row("scene upload", sent)
            table.add_row("provider copy", f"{received} ({'byte-identical' if same else 'MISMATCH'})")
            table.add_row("frames", "not yet: the provider agent that renders them is the next issue")
            console.print(table)
            return 0 if same else 1
