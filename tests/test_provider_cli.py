"""`python -m server provider …`: --help everywhere, keygen, and the registration commands on the devnet."""

import json
import os
import subprocess
import sys

import pytest

from addon.farm.keystore import load_keystore
from tests.provider_fixtures import PASSPHRASE, ROOT, key_file

ACTIONS = ["run", "register", "update", "status", "withdraw", "unregister", "benchmark", "devices", "keygen"]


def provider(*args, env=None, pass_fds=(), timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", "provider", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=os.environ | (env or {}), pass_fds=pass_fds)


def test_every_action_has_help():
    top = provider("--help")
    assert top.returncode == 0 and all(a in top.stdout for a in ACTIONS)
    for action in ACTIONS:
        result = provider(action, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, (action, result.stderr)
    assert "--max-scene-bytes" in provider("run", "--help").stdout
    assert "--no-sandbox" in provider("run", "--help").stdout


def test_keygen_writes_an_encrypted_key_and_prints_the_address(tmp_path):
    path = tmp_path / "provider.key"
    read_end, write_end = os.pipe()
    os.write(write_end, b"a long passphrase\n")
    os.close(write_end)
    result = provider("keygen", "--key-file", str(path), "--passphrase-fd", str(read_end), "--mnemonic",
                      pass_fds=(read_end,))
    os.close(read_end)
    assert result.returncode == 0, result.stderr
    address = result.stdout.strip()
    store = load_keystore(path)
    assert store.address == address and address.startswith("ST")
    unlocked = store.unlock("a long passphrase")
    assert len(unlocked.mnemonic.split()) == 24 and unlocked.mnemonic in result.stderr  # shown once, to back up
    assert unlocked.mnemonic not in path.read_text()
    again = provider("keygen", "--key-file", str(path), env={"RENDER_FARM_PASSPHRASE": "x"})
    assert again.returncode != 0 and "exists already" in (again.stderr + again.stdout)


def test_missing_passphrase_and_wrong_passphrase_are_clear(tmp_path, world):
    account = world.account()
    path = key_file(tmp_path / "k", account.private_key)
    no_pass = provider("withdraw", "--key-file", str(path), "--node", "http://127.0.0.1:9", env={
        "RENDER_FARM_PASSPHRASE": ""}, timeout=60)
    assert no_pass.returncode == 2 and "no passphrase given" in no_pass.stderr
    wrong = provider("withdraw", "--key-file", str(path), "--node", "http://127.0.0.1:9",
                     env={"RENDER_FARM_PASSPHRASE": "wrong"}, timeout=60)
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr


@pytest.mark.usefixtures("conservation")
def test_register_status_update_unregister_on_the_devnet(tmp_path, world, farm, devnet):
    account = world.account()
    path = key_file(tmp_path / "k", account.private_key)
    env = {"RENDER_FARM_PASSPHRASE": PASSPHRASE}
    common = ["--key-file", str(path), "--node", devnet.url, "--data-dir", str(tmp_path / "data")]
    registered = provider("register", *common, "--gpus", "2", "--bond", "12", "--benchmark-score", "150",
                          "--device", "CPU", env=env)
    assert registered.returncode == 0, registered.stderr
    record = farm.get_provider(account.address)
    assert (record.gpu_count, record.bond, record.benchmark_score) == (2, 12_000_000, 150)
    updated = provider("update", *common, "--gpus", "3", "--price", "7", "--benchmark-score", "160",
                       "--device", "CPU", env=env)
    assert updated.returncode == 0, updated.stderr
    record = farm.get_provider(account.address)
    assert (record.gpu_count, record.price_per_unit, record.benchmark_score) == (3, 7, 160)
    status = provider("status", *common)  # reads the address from the key file: no passphrase
    assert status.returncode == 0 and account.address in status.stdout and "160" in status.stdout
    nothing = provider("withdraw", *common, env=env)
    assert nothing.returncode == 0 and "no earnings" in nothing.stdout
    balance = farm.client.get_balance(account.address)
    left = provider("unregister", *common, env=env)
    assert left.returncode == 0 and "12 STX paid back" in left.stdout, left.stderr
    assert not farm.get_provider(account.address).registered
    assert farm.client.get_balance(account.address) > balance + 11_000_000


def test_json_logs_are_one_object_per_line(tmp_path, world, farm, devnet):
    """`run --log-format json` as a service would: every line parses, with an event and a message."""
    account = world.account()
    path = key_file(tmp_path / "k", account.private_key)
    proc = subprocess.Popen([sys.executable, "-m", "server", "provider", "run", "--key-file", str(path), "--node",
                             devnet.url, "--data-dir", str(tmp_path / "data"), "--log-format", "json",
                             "--benchmark-score", "100", "--device", "CPU"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ | {"RENDER_FARM_PASSPHRASE": PASSPHRASE})
    lines = []
    for line in proc.stderr:
        lines.append(json.loads(line))
        if lines[-1]["event"] == "ready":
            break
    proc.terminate()
    rest, _ = proc.communicate(timeout=60)[1], None
    lines += [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert proc.returncode == 0
    events = [line["event"] for line in lines]
    assert "registering" in events and "ready" in events and events[-1] == "availability"
    assert all(set(line) >= {"ts", "level", "event", "message"} for line in lines)
    assert not farm.get_provider(account.address).available


def test_live_view_lists_jobs_with_their_progress():
    from types import SimpleNamespace

    from rich.console import Console

    from server.provider.agent import JobView
    from server.provider.cli import _view

    agent = SimpleNamespace(address="ST1PROVIDER", views={7: JobView(7, "rendering", 24, rendered=5, uploaded=4)})
    console = Console(record=True, width=120)
    console.print(_view(agent))
    text = console.export_text()
    assert "ST1PROVIDER" in text and "rendering" in text and "5/24" in text and "4/24" in text


def test_run_refuses_to_start_without_a_sandbox(tmp_path, world, farm, devnet):
    """No bubblewrap on PATH: `run` says what to do and exits before registering anything."""
    account = world.account()
    path = key_file(tmp_path / "k", account.private_key)
    result = provider("run", "--key-file", str(path), "--node", devnet.url, "--data-dir", str(tmp_path / "data"),
                      "--device", "CPU", "--benchmark-score", "100", "--no-progress",
                      env={"RENDER_FARM_PASSPHRASE": PASSPHRASE, "PATH": str(tmp_path)}, timeout=120)
    assert result.returncode == 1 and "bubblewrap (bwrap) is not installed" in result.stderr, result.stderr
    assert "--no-sandbox" in result.stderr
    assert farm.get_provider(account.address) is None  # never registered
