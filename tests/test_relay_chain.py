"""Authorization read from the chain: a relay started with `--node` (the local devnet) lets a job's
requester and assigned provider in, as recorded by the render-farm contract, and nobody else."""

import hashlib

import pytest

from addon.farm.contract import Chunk, RenderFarm
from addon.farm.relay_client import RelayClient, RelayRefused
from server.relay.local import RelayProcess
from tests.conftest_devnet import devnet, devnet_accounts, devnet_client  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def chain_job(devnet, devnet_accounts, devnet_client, tmp_path_factory):  # noqa: F811
    requester, provider, stranger = (devnet_accounts[n] for n in ("wallet_1", "wallet_2", "wallet_3"))
    contract_id = f"{devnet_accounts['deployer']['address']}.render-farm"
    farm = RenderFarm(devnet_client, contract_id)
    if farm.get_provider(provider["address"]) is None:
        farm.register_provider(
            provider["private_key"],
            gpu_count=2,
            gpu_memory=24_576,
            benchmark_score=1000,
            price_per_unit=10,
            bond=50_000_000,
        )
    manifest = b"encrypted scene manifest for this provider"
    job_id = farm.create_job(
        requester["private_key"],
        Chunk(
            provider=provider["address"],
            reward=2_000_000,
            complexity=100,
            estimated_duration=600,
            scene_hash=hashlib.sha256(manifest).digest(),
            frame_start=1,
            frame_end=10,
        ),
    )
    root = tmp_path_factory.mktemp("relay-chain")
    # No --contract: on the devnet the relay finds the deployed contract itself.
    with RelayProcess(root / "data", extra_args=["--node", devnet.url], env={"RELAY_LOG_LEVEL": "warning"}) as relay:
        yield relay, job_id, manifest, {"requester": requester, "provider": provider, "stranger": stranger}


def _client(relay, account):
    return RelayClient(relay.url, account["private_key"], retries=0)


def test_parties_come_from_the_contract(chain_job):
    relay, job_id, manifest, who = chain_job
    with (
        _client(relay, who["requester"]) as rc,
        _client(relay, who["provider"]) as pc,
        _client(relay, who["stranger"]) as sc,
    ):
        with pytest.raises(RelayRefused) as err:
            rc.jobs.put_scene_manifest(job_id, b"not the committed manifest", [])
        assert err.value.code == "manifest_hash_mismatch"
        rc.jobs.put_scene_manifest(job_id, manifest, [])
        assert _doc(pc.jobs.get_scene_manifest(job_id)) == (manifest, [])
        assert pc.jobs.post_progress(job_id, 1, 10) >= 1
        for call in (
            lambda: sc.jobs.get_scene_manifest(job_id),
            lambda: pc.jobs.put_scene_manifest(job_id, manifest, []),
            lambda: rc.jobs.post_progress(job_id, 2, 10),
            lambda: sc.jobs.post_progress(job_id, 2, 10),
        ):
            with pytest.raises(RelayRefused) as err:
                call()
            assert err.value.status == 403
        with pytest.raises(RelayRefused) as err:
            rc.jobs.get_scene_manifest(job_id + 10_000)
        assert err.value.status == 404 and err.value.code == "no_job"


def _doc(document):
    """A job document as (ciphertext, referenced blob ids)."""
    return document.data, document.blob_ids
