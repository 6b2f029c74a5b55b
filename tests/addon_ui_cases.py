"""The add-on inside real Blender (the bpy wheel), installed from the zip build.py makes.

Run by tests/test_addon_ui.py in a process of its own (bpy's state must not leak into other tests):
  RENDER_FARM_TEST_ZIP=dist/….zip BLENDER_USER_RESOURCES=/tmp/x python -m pytest tests/addon_ui_cases.py
"""

import builtins
import functools
import importlib
import os
import socket
import sys
from pathlib import Path

import bpy
import pytest

from tests.addon_ui_layout import RecordingLayout

PACKAGE = "bl_ext.user_default.render_farm_stacks"
# A public test wallet (the local chain's wallet_1); the outer test greps every log for it.
IMPORT_WORDS = ("sell invite acquire kitten bamboo drastic jelly vivid peace spawn twice guilt pave pen trash "
                "pretty park cube fragile unaware remain midnight betray rebuild")
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="session")
def ui():
    result = bpy.ops.extensions.package_install_files(filepath=os.environ["RENDER_FARM_TEST_ZIP"],
                                                      repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}
    module = importlib.import_module(f"{PACKAGE}.blender")
    yield module
    repos = [r.module for r in bpy.context.preferences.extensions.repos]
    assert bpy.ops.extensions.package_uninstall(repo_index=repos.index("user_default"),
                                                pkg_id="render_farm_stacks") == {"FINISHED"}


def sub(ui, name):
    return importlib.import_module(f"{ui.__name__}.{name}")


@pytest.fixture
def fresh_session(ui):
    session = sub(ui, "session").SESSION
    saved = dict(vars(session), reports=list(session.reports))
    yield session
    vars(session).clear()
    vars(session).update(saved)


class NoIO:
    """Fails any file open or socket connection made while active (draw() must do neither)."""

    def __enter__(self):
        self.open, self.connect = builtins.open, socket.socket.connect
        builtins.open = self._refuse
        socket.socket.connect = self._refuse
        return self

    def __exit__(self, *exc):
        builtins.open, socket.socket.connect = self.open, self.connect

    @staticmethod
    def _refuse(*args, **kwargs):
        raise AssertionError(f"draw() touched the disk or network: {args[:2]}")


def draw(ui, panel_name: str) -> RecordingLayout:
    panels = sub(ui, "panels")
    layout = RecordingLayout()
    holder = type("PanelSelf", (), {"layout": layout})()
    with NoIO():
        getattr(panels, panel_name).draw(holder, bpy.context)
    return layout


def job_views(messages):
    states = ["pending", "in_progress", "submitted", "approved", "completed", "downloaded", "rejected", "cancelled",
              "expired", "declined", "odd"]
    chunks = tuple(messages.ChunkView(job_id=i, frames=(1 + 4 * i, 4 + 4 * i), provider="ST2CY5V39NHDPWSXMW9QDT3HC3"
                                      "GD6Q6XX4CFRK9AG", state=state, progress=min(1.0, i / 8),
                                      preview_paths=("/nonexistent/000003.png",) if state == "submitted" else ())
                   for i, state in enumerate(states))
    return (messages.JobView("scene 1–36", chunks, downloaded_to="/tmp/frames"), messages.JobView("empty"))


def test_registered_from_the_zip(ui):
    assert PACKAGE in bpy.context.preferences.addons
    assert all(cls.is_registered for cls in ui.classes)
    assert ui.cli_registered()
    assert hasattr(bpy.types.Scene, "render_farm")
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    assert prefs.network == "local" and not hasattr(prefs, "private_key")


@pytest.mark.parametrize("panel", ["RENDERFARM_PT_sidebar", "RENDERFARM_PT_output"])
@pytest.mark.parametrize("network", ["local", "testnet"])
@pytest.mark.parametrize("state", ["NO_WALLET_UNCHECKED", "NO_WALLET", "LOCKED", "READY", "BUSY", "OFFLINE"])
@pytest.mark.parametrize("extras", [False, True])
def test_every_panel_draws_in_every_state(ui, fresh_session, panel, network, state, extras):
    messages = sub(ui, "messages")
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.network = "testnet" if state == "OFFLINE" else network
    bpy.context.preferences.system.use_online_access = state != "OFFLINE"
    bpy.context.scene.render_farm.use_scene_range = not extras
    s = fresh_session
    s.wallet_checked = state != "NO_WALLET_UNCHECKED"
    s.address = None if state.startswith("NO_WALLET") else "ST1SJ3DTE5DN7X54YDH5D64R3BCB6A2AG2ZQ8YPD5"
    s.hold_key("aa" * 32 + "01" if state in ("READY", "BUSY") else None)
    s.task = "Uploading 200 files" if state == "BUSY" else ""
    s.progress = (50.0, 200.0) if state == "BUSY" else (0.0, 0.0)
    s.balance = 12_345_678 if extras else None
    s.jobs = job_views(messages) if extras else ()
    s.pending = (messages.PendingTx("0x" + "ab" * 32, "create-jobs", 7, "pending", 12.0),) if extras else ()
    s.last_error = "Reading the balance: the node did not answer; check the node URL " * 2 if extras else ""
    s.backup_words = " ".join(IMPORT_WORDS.split()) if extras else ""
    s.estimate = ("About 42 s per frame on the reference machine (features)",) if extras else ()
    expected = "OFFLINE" if state == "OFFLINE" else "NO_WALLET" if state.startswith("NO_WALLET") else state
    online, _ = sub(ui, "preferences").network_allowed(prefs)
    assert s.status(online) == expected
    layout = draw(ui, panel)
    texts, ops = " ".join(layout.texts()), layout.operators()
    if expected == "NO_WALLET":
        assert {"render_farm.wallet_create", "render_farm.wallet_import"} <= set(ops)
    elif expected == "LOCKED":
        assert "render_farm.wallet_unlock" in ops
    elif expected == "OFFLINE":
        assert "Online access is off" in texts and not any(o != "render_farm.wallet_backup_done" for o in ops)
    else:
        assert "render_farm.wallet_refresh" in ops and ("render_farm.faucet" in ops) == (network == "local")
        assert ("12.345678 STX" in texts) == extras
    if expected == "BUSY":
        assert any(name == "progress" and kw["factor"] == 0.25 for _, name, _, kw in layout.calls)
    if extras:
        assert "#2 frames 9–12" in texts and "Transactions waiting for a block" in texts and "Last error" in texts
        assert "1. sell" in texts and "render_farm.wallet_backup_done" in ops
        if expected in ("READY", "BUSY"):  # per-state buttons: approve/reject, download, cancel
            # approve + reject; cancel for pending, rejected, declined; reassign for rejected, declined
            assert ops.count("render_farm.job_action") == 2 + 3 + 2 and ops.count("render_farm.download") == 1
        else:
            assert "render_farm.job_action" not in ops and "render_farm.download" not in ops
    if expected in ("READY", "BUSY"):
        assert {"render_farm.check_scene", "render_farm.submit", "render_farm.estimate"} <= set(ops)
        assert ("About 42 s per frame" in texts) == extras
    bpy.context.preferences.system.use_online_access = False


def test_worker_messages_reach_the_session_only_when_drained(ui, fresh_session):
    worker, messages = sub(ui, "worker"), sub(ui, "messages")

    def task(emit, n):
        for i in range(n):
            emit(messages.TaskProgress("count", i + 1, n))
        return "counted"

    worker.start("count", task, 3)
    worker._thread.join(0)  # the worker runs on; the session only changes in drain()
    import time
    deadline = time.monotonic() + 10
    while worker._tasks.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.01)
    while worker._messages.qsize() < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fresh_session.last_info != "counted"
    assert worker.drain(limit=2) == 2 and fresh_session.task == "count"
    assert worker.drain() == 3
    assert fresh_session.task == "" and fresh_session.last_info == "counted" and fresh_session.progress == (3, 3)


def test_a_failing_task_becomes_an_error_report(ui, fresh_session):
    worker = sub(ui, "worker")

    def task(emit):
        raise ConnectionError("the local chain at http://127.0.0.1:9 did not answer; start it")

    worker.run_blocking("Reading the balance", task)
    assert fresh_session.task == ""
    assert fresh_session.last_error == "Reading the balance: the local chain at http://127.0.0.1:9 did not answer; " \
                                       "start it"


def test_wallet_import_unlock_and_no_secret_in_files(ui, tmp_path, monkeypatch):
    from bl_ext.user_default.render_farm_stacks.stacks import keys

    session = sub(ui, "session").SESSION
    home = sub(ui, "identity").user_dir()
    assert str(home).startswith(os.environ["BLENDER_USER_RESOURCES"])  # extension_path_user, not the repo
    assert bpy.ops.render_farm.wallet_import(words=IMPORT_WORDS, passphrase=PASSPHRASE) == {"FINISHED"}
    key = keys.derive_private_key(IMPORT_WORDS)
    assert session.address == keys.address_from_private_key(key, "testnet") and session.unlocked
    assert bpy.ops.render_farm.wallet_lock() == {"FINISHED"} and not session.unlocked

    with pytest.raises(RuntimeError, match="wrong passphrase"):
        bpy.ops.render_farm.wallet_unlock(passphrase="not it")
    assert not session.unlocked and "wrong passphrase" in session.last_error
    monkeypatch.setenv("RENDER_FARM_PASSPHRASE", PASSPHRASE)  # headless: from the environment
    assert bpy.ops.render_farm.wallet_unlock() == {"FINISHED"} and session.private_key() == key

    blend = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    bpy.ops.wm.save_userpref()
    secrets = [key.encode(), key[:64].encode(), IMPORT_WORDS.encode(), IMPORT_WORDS.split()[5].encode() + b" " +
               IMPORT_WORDS.split()[6].encode()]
    user_resources = Path(os.environ["BLENDER_USER_RESOURCES"])
    files = [blend, *(p for p in user_resources.rglob("*") if p.is_file())]
    assert any(p.name == "wallet.json" for p in files) and any(p.name == "userpref.blend" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, f"{path} holds a secret in plain text"


def test_create_shows_words_once_and_refuses_an_empty_passphrase(ui, fresh_session, monkeypatch):
    from bl_ext.user_default.render_farm_stacks.blender import wallet

    monkeypatch.delenv("RENDER_FARM_PASSPHRASE", raising=False)
    home = sub(ui, "identity").user_dir()
    assert bpy.ops.render_farm.wallet_create.poll()
    with pytest.raises(RuntimeError, match="no passphrase given"):
        bpy.ops.render_farm.wallet_create()
    other = home / "other"
    other.mkdir(exist_ok=True)
    sub(ui, "worker").run_blocking("Creating", wallet.create, other, PASSPHRASE, "local")
    words = fresh_session.backup_words
    assert len(words.split()) == 24 and fresh_session.unlocked
    assert bpy.ops.render_farm.wallet_backup_done() == {"FINISHED"} and fresh_session.backup_words == ""
    stored = (other / "wallet.json").read_bytes()
    assert words.encode() not in stored and words.split()[0].encode() + b" " not in stored


def test_cli_command_runs_the_headless_cli(ui, capsys):
    command = sub(ui, "cli_command")
    assert command.COMMAND == "render_farm" and command.registered()
    with pytest.raises(SystemExit) as done:
        command.run(["submit", "--help"])  # what `blender -c render_farm submit --help` runs
    assert done.value.code == 0 and "--wait" in capsys.readouterr().out


def test_estimate_sets_seconds_per_frame(ui, fresh_session):
    settings = bpy.context.scene.render_farm
    settings.complexity_per_frame = 1
    assert bpy.ops.render_farm.estimate() == {"FINISHED"}
    assert settings.complexity_per_frame >= 1 and fresh_session.estimate[0].startswith("About ")


def test_preflight_lists_problems_for_an_unsaved_scene(ui, fresh_session):
    bpy.context.preferences.addons[PACKAGE].preferences.network = "local"  # loopback: no online access needed
    fresh_session.hold_key("aa" * 32 + "01")
    fresh_session.address = "ST1SJ3DTE5DN7X54YDH5D64R3BCB6A2AG2ZQ8YPD5"
    with pytest.raises(RuntimeError, match="Pre-flight found 1 error"):
        bpy.ops.render_farm.check_scene()
    assert fresh_session.problems == (("error", "The scene is not saved: save the .blend, then submit"),)
    layout = draw(ui, "RENDERFARM_PT_sidebar")
    assert "The scene is not saved: save the .blend, then submit" in " ".join(layout.texts())



def test_quote_shows_the_reward_the_chains_providers_imply(ui, fresh_session):
    """Quote Providers runs the submit planner over the providers listed from a real local chain."""
    from addon.farm.contract import RenderFarm
    from addon.stacks.api import StacksClient
    from server.devnet import Devnet
    from tests.farm_world import World

    with Devnet() as devnet, StacksClient("devnet", api_url=devnet.url) as client:
        deployer = next(a for a in devnet.accounts() if a["name"] == "deployer")
        farm = RenderFarm(client, f"{deployer['address']}.render-farm")
        world = World(devnet, farm)
        providers = [world.provider(gpu_count=1, price=price) for price in (3, 5)]
        prefs = bpy.context.preferences.addons[PACKAGE].preferences
        saved = (prefs.network, prefs.node_url, prefs.contract_id)
        prefs.network, prefs.node_url, prefs.contract_id = "local", devnet.url, farm.contract_id
        settings = bpy.context.scene.render_farm
        settings.use_scene_range, settings.frame_start, settings.frame_end = False, 1, 4
        settings.chunk_size, settings.providers, settings.reward_stx = 2, 2, 0.0
        try:
            assert bpy.ops.render_farm.quote() == {"FINISHED"}
        finally:
            prefs.network, prefs.node_url, prefs.contract_id = saved
    reward, spread = fresh_session.quote
    assert reward.startswith("Reward ") and "2 chunk(s) (at the providers' prices)" in reward
    assert spread.startswith("on 2 provider(s)")  # one free GPU each: one chunk each
    assert float(reward.split()[1]) > 0 and len(providers) == 2
    assert reward in " ".join(draw(ui, "RENDERFARM_PT_sidebar").texts())


def test_blender_progress_indicator_follows_the_task(ui, fresh_session):
    progress, worker, messages = sub(ui, "progress"), sub(ui, "worker"), sub(ui, "messages")
    seen = []

    def task(emit):
        for i in range(3):
            emit(messages.TaskProgress("count", i + 1, 3))
            seen.append(progress.active())
        return "counted"

    # What an operator does headless (operators.run_task): Blender's progress_begin/update/end on this thread.
    worker.run_blocking("count", task, after=progress.sync)
    assert seen == [True, True, True] and not progress.active() and fresh_session.last_info == "counted"
    # The UI's timer step (__init__._tick) drives the same calls; with no task running it ends the indicator.
    fresh_session.task, fresh_session.progress = "Uploading", (1.0, 4.0)
    progress.sync(fresh_session)
    assert progress.active()
    fresh_session.task = ""
    progress.sync(fresh_session)
    assert not progress.active()


# ---- Submit through the panel's operator, a relay failure after create-jobs, Resume, a provider renders ------

@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    """A local chain, a relay behind a proxy that can go down, and a provider agent process on the proxy."""
    from addon.farm.contract import RenderFarm
    from addon.stacks.api import StacksClient
    from server.devnet import Devnet
    from server.relay.local import RelayProcess
    from tests.farm_world import World
    from tests.provider_fixtures import AgentProcess, PausableProxy, key_file

    root = tmp_path_factory.mktemp("farm")
    with Devnet() as devnet, StacksClient("devnet", api_url=devnet.url) as client:
        accounts = {a["name"]: a for a in devnet.accounts()}
        chain = RenderFarm(client, f"{accounts['deployer']['address']}.render-farm")
        with RelayProcess(root / "relay", extra_args=["--node", devnet.url],
                          env={"RELAY_LOG_LEVEL": "warning"}) as relay:
            proxy = PausableProxy(int(relay.url.rsplit(":", 1)[1]))
            proxy.up()
            world = World(devnet, chain)
            provider = world.account()
            agent = AgentProcess(key_file(root / "provider.key", provider.private_key), devnet.url, chain.contract_id,
                                 proxy.url, root / "agent").start()
            try:
                agent.wait_for("ready", timeout=120)
                yield {"devnet": devnet, "chain": chain, "proxy": proxy, "world": world, "provider": provider,
                       "agent": agent}
            finally:
                agent.stop()
                proxy.down()


def test_submit_relay_failure_then_resume_and_the_provider_renders(ui, farm, tmp_path, monkeypatch):
    """The panel's Submit end to end in the bpy module (pre-flight, packing, upload, create-jobs); the relay goes
    down the moment create-jobs is mined: a clear error, the chunk listed with Resume; relay back, Resume, the
    provider renders it."""
    from addon.farm.contract import JobStatus
    from tests.provider_fixtures import tiny_scene, wait_status

    farm_tasks, wallet, worker, progress = (sub(ui, n) for n in ("farm_tasks", "wallet", "worker", "progress"))
    session, identity = sub(ui, "session").SESSION, sub(ui, "identity")
    job_list_module = importlib.import_module(f"{PACKAGE}.farm.job_list")
    events = importlib.import_module(f"{PACKAGE}.farm.events")
    home = tmp_path / "home"
    monkeypatch.setenv("RENDER_FARM_HOME", str(home))  # a fresh wallet, job list and journal
    requester = farm["world"].account()
    worker.run_blocking("Importing", functools.partial(wallet.create, private_key=requester.private_key),
                        identity.user_dir(), PASSPHRASE, "local")
    assert session.unlocked and session.address == requester.address

    scene = tiny_scene(tmp_path / "project" / "tiny.blend")
    bpy.ops.wm.open_mainfile(filepath=str(scene), load_ui=False)
    # The bpy module never clears is_dirty (only the UI's notifier loop does), so pre-flight skips that check
    # in background; every other check runs.
    assert bpy.data.is_dirty and bpy.app.background
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.network, prefs.node_url, prefs.relay_url, prefs.contract_id = \
        "local", farm["devnet"].url, farm["proxy"].url, farm["chain"].contract_id
    settings = bpy.context.scene.render_farm
    settings.use_scene_range, settings.frame_start, settings.frame_end, settings.chunk_size = False, 1, 2, 2
    settings.providers, settings.reward_stx, settings.complexity_per_frame = 1, 2.0, 10
    settings.pinned, settings.excluded = farm["provider"].address, ""

    forward = farm_tasks._forward

    def relay_fails_after_create_jobs(emit, task):
        on_event = forward(emit, task)

        def watch(event):
            if isinstance(event, events.JobsCreated):
                farm["proxy"].down()  # the chunks exist on chain; no manifest is stored yet
            on_event(event)
        return watch

    monkeypatch.setattr(farm_tasks, "_forward", relay_fails_after_create_jobs)
    with pytest.raises(RuntimeError, match=r"storing job \d+'s scene manifest .*Resume in the panel .*unreachable"):
        bpy.ops.render_farm.submit()
    monkeypatch.setattr(farm_tasks, "_forward", forward)
    assert not progress.active()
    (record,) = job_list_module.JobList(home).records(farm["chain"].contract_id)
    assert not record.manifest_sent and record.envelope_hex and record.package_dir
    assert farm["chain"].get_job(record.job_id).status == JobStatus.PENDING
    (job,) = session.jobs
    assert job.unsent and job.chunks[0].job_id == record.job_id
    layout = draw(ui, "RENDERFARM_PT_sidebar")
    assert "render_farm.resume" in layout.operators()
    assert "The relay did not store every chunk's scene" in " ".join(layout.texts())

    with pytest.raises(RuntimeError, match="Resuming: .*relay at .* unreachable"):  # still down: nothing lost
        bpy.ops.render_farm.resume()
    assert not job_list_module.JobList(home).records(farm["chain"].contract_id)[0].manifest_sent

    farm["proxy"].up()
    assert bpy.ops.render_farm.resume() == {"FINISHED"}
    assert session.last_info == "Resumed 1 chunk(s): their providers can start"
    assert job_list_module.JobList(home).records(farm["chain"].contract_id)[0].manifest_sent
    assert not session.jobs[0].unsent
    wait_status(farm["chain"], record.job_id, JobStatus.SUBMITTED, timeout=240)
    assert bpy.ops.render_farm.resume() == {"FINISHED"}
    assert session.last_info.startswith("Nothing to resume")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
