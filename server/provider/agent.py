"""The provider agent: a GPU owner's daemon that takes the jobs assigned to it on chain and gets paid.

One `Agent` is what the CLI (`python -m server provider run`), the demo and the tests drive:

- at start it re-checks the pending chain writes of its journal, registers (or switches availability
  on), and on a clean stop switches availability off;
- it polls the chain for jobs assigned to it (`get-provider-job-ids` + `get-job`), at most one job per
  GPU at a time, and declines (`decline-job`) the ones it cannot serve, saying why;
- for a job it takes it fetches and verifies the scene before `start-job`, stores its secret r before
  anything is encrypted under it, renders the chunk, uploads each frame as soon as it is rendered
  (a thread of its own, so uploads overlap rendering), posts heartbeats, and submits the result;
- it claims as soon as the requester approves or the review window passes, and withdraws above a
  threshold.

Everything it must remember is in SQLite (server/provider/state.py and the tx journal) before the
action that needs it, so it can be killed at any point and carries on. The node or the relay being
unreachable is retried with backoff and a log line that says what is being retried.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path

from addon.farm import exchange
from addon.farm.contract import Job, JobStatus, RenderFarm
from addon.farm.contract_errors import ContractError
from addon.farm.errors import AuthorizationError, FarmError, IntegrityError
from addon.farm.manifest import ResultFrame, SceneManifest
from addon.farm.relay_client import RelayClient, RelayRefused, RelayUnavailable
from addon.farm.tx_journal import TxJournal
from addon.stacks import keys
from addon.stacks.api import StacksClient
from addon.stacks.errors import NetworkError, TransactionTimeout

from . import state as S
from .flow import ProviderFlow
from .sandbox import SandboxUnavailable

log = logging.getLogger("provider.agent")
STX = 1_000_000
_TRANSIENT = (NetworkError, TransactionTimeout, RelayUnavailable)


def transient(exc: BaseException) -> BaseException | None:
    """The unreachable-node/relay error behind `exc` (a flow's FarmError keeps it as __cause__), or None."""
    while exc is not None:
        if isinstance(exc, _TRANSIENT):
            return exc
        if isinstance(exc, RelayRefused) and exc.retryable:
            return exc
        exc = exc.__cause__
    return None


def contract_error(exc: BaseException) -> ContractError | None:
    while exc is not None and not isinstance(exc, ContractError):
        exc = exc.__cause__
    return exc


def relay_status(exc: BaseException) -> int | None:
    while exc is not None and not isinstance(exc, RelayRefused):
        exc = exc.__cause__
    return exc.status if exc is not None else None


@dataclass
class AgentConfig:
    node_url: str
    contract_id: str
    data_dir: Path
    network: str = "devnet"  # addon.stacks network name: devnet, testnet, mainnet
    relays: tuple[str, ...] = ()  # relays this agent talks to; empty: the one each job's batch names
    # what registration publishes
    gpu_count: int = 1
    gpu_memory: int = 8192  # MiB
    benchmark_score: int = 100
    price_per_unit: int = 1_000  # micro-STX per complexity unit
    bond: int = 10 * STX
    # what it serves
    device: str = "CPU"
    max_scene_bytes: int = 4 << 30
    max_requester_rejection_rate: float = 0.5  # rejections / jobs above this: declined...
    requester_min_jobs: int = 3  # ...once the requester has this many jobs on record
    min_accept_seconds: int = 60  # chain seconds left before accept-by needed to take a job
    blender: dict[str, str] = field(default_factory=dict)  # "4.2" → python of a venv with that bpy
    sandbox: bool = True
    decline_risky_scenes: bool = False  # decline scenes needing what the renderer switches off (else render without)
    hide: tuple[Path, ...] = ()  # never visible inside the sandbox (the key file); the state DB is added
    frame_time_cap: float = 600.0
    memory_cap: int = 8 << 30
    # money
    withdraw_above: int | None = None  # micro-STX of earnings that trigger a withdraw; None: on demand
    # pacing
    poll_seconds: float = 0.5
    busy_poll_seconds: float = 2.0
    heartbeat_seconds: float = 30.0
    retry_max_seconds: float = 30.0


@dataclass
class JobView:
    """What the live view shows of a job."""

    job_id: int
    phase: str
    frames_total: int = 0
    rendered: int = 0
    uploaded: int = 0
    started: float = field(default_factory=time.monotonic)
    detail: str = ""


class Stopped(Exception):
    """The agent is stopping: the work in hand is left for the next start."""


class Agent:
    def __init__(self, config: AgentConfig, private_key: str, *, on_event: Callable | None = None,
                 renderer: Callable | None = None):
        self.private_key = private_key
        self.client = StacksClient(config.network, api_url=config.node_url)
        self.address = keys.address_from_private_key(private_key, self.client.network.address_network)
        self.data_dir = Path(config.data_dir)
        self.state = S.AgentState(self.data_dir, private_key)
        state_files = (self.state.path, self.state.path.with_name(self.state.path.name + "-wal"))
        self.config = config = replace(config, hide=(*config.hide, *state_files))
        self.journal = TxJournal(self.state.path)  # same file, its own table
        self.farm = RenderFarm(self.client, config.contract_id, journal=self.journal)
        self.on_event = on_event
        self.renderer = renderer or default_renderer(config)
        self.views: dict[int, JobView] = {}
        self._stop = threading.Event()
        self._workers: dict[int, threading.Thread] = {}
        self._flows: dict[str, ProviderFlow] = {}
        self._lock = threading.Lock()
        self._job_ids: list[int] = []  # every job ever assigned to this provider, oldest first
        self._last_error: dict[int, str] = {}

    # ---- events and logs --------------------------------------------------------------------------

    def emit(self, event: str, message: str, level: int = logging.INFO, **fields) -> None:
        log.log(level, message, extra={"event": event, "fields": fields})
        if self.on_event:
            self.on_event(event, message, fields)

    # ---- lifecycle ----------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Run until stop() (or `until()` is true); then switch availability off. Raises
        SandboxUnavailable at once, before registering, if the sandbox cannot run on this machine."""
        if self.config.sandbox:
            from server.provider import sandbox

            sandbox.bwrap()  # checked before the provider says it is available
        try:
            self.retrying("re-check pending transactions", self.recover_transactions)
            self.retrying("register", self.ensure_registered)
            while not self.stopping and not (until and until()):
                try:
                    self.poll()
                except Exception as exc:
                    cause = transient(exc)
                    if cause is None:
                        raise
                    self._wait_retry("watch the chain", cause, 0)
                    continue
                # Every GPU busy: nothing new can start, so look less often (the chain's node and this
                # process would otherwise take CPU from the render); claims can wait a second or two.
                busy = self._busy() >= self.config.gpu_count
                self._stop.wait(self.config.busy_poll_seconds if busy else self.config.poll_seconds)
        except Stopped:
            pass  # asked to stop while the node or relay was unreachable
        finally:
            self._stop.set()
            for worker in list(self._workers.values()):
                worker.join(timeout=5)
            try:
                self.set_available(False)
            except (*_TRANSIENT, ContractError) as exc:
                self.emit("availability_not_cleared", f"could not switch availability off: {exc}", logging.WARNING)
            self.close()

    def close(self) -> None:
        for flow in self._flows.values():
            flow.close()
        self.client.close()

    def retrying(self, what: str, fn: Callable, *args, **kwargs):
        """Run `fn`, retrying while the node or the relay is unreachable (until the agent stops). Chain
        writes are safe to retry: the journal hands back the pending transaction instead of a new one."""
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                cause = transient(exc)
                if cause is None:
                    raise
                if self.stopping:
                    raise Stopped(what) from exc
                self._wait_retry(what, cause, attempt)
                attempt += 1

    def _wait_retry(self, what: str, exc: Exception, attempt: int) -> None:
        delay = min(self.config.retry_max_seconds, 0.5 * 2 ** min(attempt, 8))
        source = "relay" if isinstance(exc, RelayUnavailable | RelayRefused) else "node"
        self.emit(f"{source}_unreachable", f"{what}: the {source} is unreachable ({exc}); retrying in {delay:g} s",
                  logging.WARNING, attempt=attempt + 1, retry_in=delay)
        self._stop.wait(delay) if not self.stopping else time.sleep(min(delay, 1))

    # ---- chain set-up ---------------------------------------------------------------------------------

    def recover_transactions(self) -> None:
        for entry, outcome in self.journal.recover(self.client):
            self.emit("tx_recovered", f"pending {entry.function} (nonce {entry.nonce}, 0x{entry.txid[:12]}…): "
                      f"{outcome}", txid=entry.txid, function=entry.function, outcome=outcome)

    def ensure_registered(self) -> None:
        c = self.config
        provider = self.farm.get_provider(self.address)
        if provider is None or not provider.registered:
            self.emit("registering", f"registering {self.address}: {c.gpu_count} GPU(s), bond {c.bond / STX:g} STX, "
                      f"{c.price_per_unit} µSTX per complexity unit, benchmark {c.benchmark_score}")
            self.farm.register_provider(self.private_key, gpu_count=c.gpu_count, gpu_memory=c.gpu_memory,
                                        benchmark_score=c.benchmark_score, price_per_unit=c.price_per_unit,
                                        bond=c.bond)
        elif not provider.available:
            self.set_available(True)
        self.emit("ready", f"provider {self.address} is available for jobs", address=self.address)

    def set_available(self, available: bool) -> None:
        provider = self.farm.get_provider(self.address)
        if provider is not None and provider.registered and provider.available != available:
            self.farm.set_availability(self.private_key, available)
            self.emit("availability", f"availability {'on' if available else 'off'}", available=available)

    # ---- watching the chain ---------------------------------------------------------------------------

    def poll(self) -> None:
        """One look at the chain: start workers for new jobs, claim what can be claimed."""
        self._job_ids += self.farm.get_provider_job_ids(self.address, start=len(self._job_ids))  # only new ones
        for job_id in self._job_ids:
            record = self.state.job(job_id)
            if record and record.phase in (S.CLOSED, S.DECLINED, S.FAILED):
                continue
            worker = self._workers.get(job_id)
            if worker and worker.is_alive():
                continue
            job = self.farm.get_job(job_id)
            if job is None:
                continue
            try:
                self.handle(job)
            except Exception as exc:
                if transient(exc):
                    raise
                if self._last_error.get(job_id) != str(exc):  # said once, not at every poll
                    self._last_error[job_id] = str(exc)
                    self.emit("job_error", f"job {job_id}: {exc}", logging.ERROR, job_id=job_id)
        self.maybe_withdraw()

    def handle(self, job: Job) -> None:
        if job.provider != self.address:
            self.state.set_phase(job.job_id, S.CLOSED, "reassigned to another provider")
            return
        status = job.status
        if status in (JobStatus.PENDING, JobStatus.IN_PROGRESS):
            if self._busy() >= self.config.gpu_count:
                return  # every GPU has a job: it waits for the next free one (or its accept window)
            worker = threading.Thread(target=self._work, args=(job,), name=f"job-{job.job_id}", daemon=True)
            self._workers[job.job_id] = worker
            worker.start()
        elif status in (JobStatus.SUBMITTED, JobStatus.APPROVED):
            self.maybe_claim(job)
        elif status == JobStatus.COMPLETED:
            self.state.set_phase(job.job_id, S.CLOSED, "paid")
            self.views.pop(job.job_id, None)
        else:
            self.state.set_phase(job.job_id, S.CLOSED, status.name.lower())
            self.emit("job_closed", f"job {job.job_id} ended as {status.name.lower()}", job_id=job.job_id,
                      status=status.name.lower())
            self.views.pop(job.job_id, None)

    def _busy(self) -> int:
        return sum(1 for w in self._workers.values() if w.is_alive())

    # ---- one job ----------------------------------------------------------------------------------------

    def _work(self, job: Job) -> None:
        try:
            self.serve(job)
        except Stopped:
            self.emit("job_paused", f"job {job.job_id}: stopping; it carries on at the next start", job_id=job.job_id)
        except SandboxUnavailable as exc:  # the machine's problem, not the job's: stop taking jobs
            self.emit("sandbox_unavailable", f"stopping: {exc}", logging.ERROR, job_id=job.job_id)
            self.stop()
        except Exception as exc:  # one job's failure must not stop the agent; the reason is kept
            self.state.set_phase(job.job_id, S.FAILED, str(exc))
            self.emit("job_failed", f"job {job.job_id} failed: {exc}", logging.ERROR, job_id=job.job_id)

    def serve(self, job: Job) -> None:
        job_id = job.job_id
        if job_id not in self.views:
            self.emit("job_seen", f"job {job_id}: assigned to this provider ({job.status.name.lower()})",
                      job_id=job_id, status=job.status.name.lower())
        view = self.views.setdefault(job_id, JobView(job_id, "checking", len(_frames(job))))
        relay_url = self.relay_for(job)
        if relay_url is None:
            return self.decline(job, "the job's relay is not one this agent is configured to use (--relay)")
        flow = self.flow(relay_url)
        scene = None
        if job.status == JobStatus.PENDING:
            reason = self.cannot_serve(job)
            if reason is None:
                try:
                    manifest = self.retrying(f"job {job_id}: read the scene manifest", flow.read_scene_manifest,
                                             job_id)
                    reason = self.cannot_serve_scene(job, manifest)
                    if reason is None:
                        view.phase = "fetching"
                        scene = self.retrying(f"job {job_id}: fetch the scene", flow.fetch_scene, job_id,
                                              manifest)
                        size = sum(p.stat().st_size for p in scene.root.rglob("*") if p.is_file())
                        if size > self.config.max_scene_bytes:
                            reason = f"the scene is {size:,} bytes, more than --max-scene-bytes"
                        elif self.config.decline_risky_scenes:
                            reason = self.risky(scene)
                except (IntegrityError, AuthorizationError) as exc:
                    reason = str(exc)
                except FarmError as exc:
                    if relay_status(exc) != 404:
                        raise
                    if view.detail != "waiting for the scene manifest":  # the requester stores it next
                        view.detail = "waiting for the scene manifest"
                        self.emit("manifest_missing", f"job {job_id}: no scene manifest on the relay yet",
                                  job_id=job_id)
                    return None
            if reason:
                return self.decline(job, reason)
            self.state.set_phase(job_id, S.SEEN, requester=job.requester, relay_url=relay_url)
            self.state.reveal_secret(job_id, exchange.new_reveal_secret)  # stored before anything uses it
            self.retrying(f"job {job_id}: start", flow.start, job_id)
            self.state.set_phase(job_id, S.STARTED)
            self.emit("job_started", f"job {job_id}: started, frames {job.frame_start}–{job.frame_end}",
                      job_id=job_id, frames=[job.frame_start, job.frame_end])
        if scene is None:  # started before a restart: fetch again (files already here are not downloaded)
            scene = self.retrying(f"job {job_id}: fetch the scene", flow.fetch_scene, job_id)
        secret = self.state.reveal_secret(job_id, exchange.new_reveal_secret)
        frames = self.render_and_upload(job, flow, scene, secret, view)
        view.phase = "submitting"
        self.retrying(f"job {job_id}: submit the result", flow.finish, job_id, frames, secret)
        self.state.set_phase(job_id, S.SUBMITTED)
        view.phase = "submitted"
        self.emit("result_submitted", f"job {job_id}: result submitted ({len(frames)} frames)", job_id=job_id,
                  frames=len(frames))

    def decline(self, job: Job, reason: str) -> None:
        self.emit("job_declined", f"job {job.job_id}: declining: {reason}", job_id=job.job_id, reason=reason)
        try:
            self.retrying(f"job {job.job_id}: decline", self.farm.decline_job, self.private_key, job.job_id)
        except ContractError as exc:  # e.g. the accept window closed meanwhile: it will expire
            self.emit("decline_refused", f"job {job.job_id}: the chain refused the decline: {exc}", logging.WARNING,
                      job_id=job.job_id)
        self.state.set_phase(job.job_id, S.DECLINED, reason)
        self.views.pop(job.job_id, None)

    def cannot_serve(self, job: Job) -> str | None:
        """Why this agent should decline the job from the chain's facts alone (None: it can serve it)."""
        c = self.config
        left = job.accept_by - self.farm.get_time()
        if left < c.min_accept_seconds:
            return f"only {left} s of the accept window left (this agent needs {c.min_accept_seconds} s)"
        stats = self.farm.get_requester_stats(job.requester)
        if stats.jobs >= c.requester_min_jobs and stats.rejections / stats.jobs > c.max_requester_rejection_rate:
            return (f"the requester {job.requester} rejected {stats.rejections} of {stats.jobs} jobs, above "
                    f"{c.max_requester_rejection_rate:.0%}")
        return None

    def cannot_serve_scene(self, job: Job, manifest: SceneManifest) -> str | None:
        if self.python_for(manifest.blender_version) is None:
            have = ", ".join(sorted(self.blender_versions()))
            return (f"the scene needs Blender {manifest.blender_version}; this agent has {have} (map more with "
                    "--blender VERSION=PYTHON)")
        declared = sum(item.size for item in manifest.files)
        if declared > self.config.max_scene_bytes:
            return f"the scene is {declared:,} bytes, more than --max-scene-bytes {self.config.max_scene_bytes:,}"
        return None

    def risky(self, scene) -> str | None:
        """Why the scene would not render as its artist made it (features switched off for safety, files
        outside the job), found by opening it in the sandbox; None if nothing."""
        from server.provider import render

        risks = render.inspect_scene(scene.blend, job_root=scene.root, sandbox=self.config.sandbox,
                                     hide=self.config.hide)
        reasons = risks.reasons()
        return "; ".join(reasons) if reasons else None

    def blender_versions(self) -> dict[str, str | None]:
        """Blender version (major.minor) → python to render with (None: this process's)."""
        versions = {_minor(v): p for v, p in self.config.blender.items()}
        versions.setdefault(_minor(metadata.version("bpy")), None)
        return versions

    def python_for(self, version: str) -> str | None | bool:
        versions = self.blender_versions()
        if _minor(version) not in versions:
            return None
        return versions[_minor(version)] or True

    def relay_for(self, job: Job) -> str | None:
        batch = self.farm.get_batch(job.batch_id)
        url = (batch.relay_url if batch else "").rstrip("/")
        if not self.config.relays:
            return url or None
        allowed = [r.rstrip("/") for r in self.config.relays]
        if not url:
            return allowed[0]
        return url if url in allowed else None

    def _flow_event(self, event) -> None:
        log.debug("%s", event, extra={"event": type(event).__name__, "fields": {}})

    def flow(self, relay_url: str) -> ProviderFlow:
        with self._lock:
            if relay_url not in self._flows:
                relay = RelayClient(relay_url, self.private_key, retries=2)  # the agent retries for longer
                self._flows[relay_url] = ProviderFlow(self.farm, relay, self.private_key, self.data_dir,
                                                      on_event=self._flow_event)
            return self._flows[relay_url]

    # ---- rendering and uploading -------------------------------------------------------------------------

    def render_and_upload(self, job: Job, flow: ProviderFlow, scene, secret: bytes, view: JobView) -> list[ResultFrame]:
        job_id, frames = job.job_id, _frames(job)
        done = {f: ResultFrame(**r) for f, r in self.state.uploaded_frames(job_id).items()}
        view.phase, view.frames_total, view.uploaded, view.rendered = "rendering", len(frames), len(done), len(done)
        if done:
            self.emit("job_resumed", f"job {job_id}: {len(done)} of {len(frames)} frames already uploaded",
                      job_id=job_id, uploaded=len(done))
        uploads: queue.Queue = queue.Queue()
        failure: list[BaseException] = []
        started = time.monotonic()
        rendered_now = [0]

        def eta() -> float | None:
            if not rendered_now[0]:
                return None
            return max(0.0, (time.monotonic() - started) / rendered_now[0] * (len(frames) - len(done)))

        def uploader() -> None:
            last_beat = 0.0
            while True:
                try:
                    rendered = uploads.get(timeout=self.config.heartbeat_seconds)
                except queue.Empty:
                    rendered = False  # no frame for a while: a heartbeat only
                if rendered is None:
                    return
                try:
                    if rendered:
                        result = self.retrying(f"job {job_id}: upload frame {rendered.frame}", flow.publish_frame,
                                               job_id, rendered, secret)
                        self.state.frame_uploaded(job_id, rendered.frame, asdict(result))
                        done[rendered.frame] = result
                        view.uploaded = len(done)
                        self.emit("frame_uploaded", f"job {job_id}: frame {rendered.frame} uploaded "
                                  f"({len(done)}/{len(frames)})", job_id=job_id, frame=rendered.frame,
                                  done=len(done), total=len(frames))
                    if rendered or time.monotonic() - last_beat >= self.config.heartbeat_seconds:
                        last_beat = time.monotonic()
                        try:
                            flow.post_progress(job_id, len(done), len(frames), eta())
                        except FarmError as exc:  # a missed heartbeat is not fatal
                            self.emit("heartbeat_missed", f"job {job_id}: heartbeat not delivered: {exc}",
                                      logging.WARNING, job_id=job_id)
                except BaseException as exc:  # handed to the render thread, which ends the chunk
                    failure.append(exc)
                    return

        thread = threading.Thread(target=uploader, name=f"upload-{job_id}", daemon=True)
        thread.start()

        def on_frame(rendered) -> None:
            rendered_now[0] += 1
            view.rendered = len(done) + rendered_now[0]
            self.emit("frame_rendered", f"job {job_id}: frame {rendered.frame} rendered", logging.DEBUG,
                      job_id=job_id, frame=rendered.frame)
            uploads.put(rendered)
            if failure:
                raise failure[0]
            if self.stopping:
                raise Stopped(f"job {job_id}")

        def on_hardened(risks) -> None:
            if risks.switched_off:
                self.emit("scene_hardened", f"job {job_id}: switched off before rendering (they could run code or "
                          f"write files): {'; '.join(risks.switched_off)}", logging.WARNING, job_id=job_id,
                          switched_off=list(risks.switched_off))

        out_dir = self.data_dir / f"job-{job_id}" / "frames"
        try:
            while True:
                todo = [f for f in frames if f not in done]
                try:
                    python = self.python_for(scene.manifest.blender_version)
                    self.renderer(scene.blend, todo, out_dir, job_root=scene.root, on_frame=on_frame,
                                  skip=tuple(done), on_hardened=on_hardened,
                                  python=python if isinstance(python, str) else None)
                    break
                except RenderFailed as exc:
                    frame = exc.frame if exc.frame is not None else todo[0] if todo else None
                    failures = self.state.frame_failed(job_id, frame, str(exc)) if frame is not None else 2
                    self.emit("frame_failed", f"job {job_id}: frame {frame} failed ({failures}×): {exc.reason}",
                              logging.WARNING, job_id=job_id, frame=frame, failures=failures)
                    if failures >= 2 or exc.final:
                        raise RenderFailed(f"frame {frame} failed twice: {exc.reason}; the job is left to expire",
                                           frame) from exc
        finally:
            uploads.put(None)
            thread.join()
        if failure:
            raise failure[0]
        missing = [f for f in frames if f not in done]
        if missing:
            raise RenderFailed(f"frames {missing} were not rendered", missing[0])
        return [done[f] for f in frames]

    # ---- payment --------------------------------------------------------------------------------------

    def maybe_claim(self, job: Job) -> None:
        if job.status == JobStatus.SUBMITTED and self.farm.get_time() <= job.review_by:
            return  # the requester may still review
        record = self.state.job(job.job_id)
        if record is None or record.sealed_secret is None:
            self.state.set_phase(job.job_id, S.FAILED, "the secret r of this job is not in the agent's state")
            self.emit("claim_impossible", f"job {job.job_id}: cannot claim, its secret r is not in this agent's "
                      "state (another data dir?)", logging.ERROR, job_id=job.job_id)
            return
        secret = self.state.reveal_secret(job.job_id, exchange.new_reveal_secret)
        why = "approved" if job.status == JobStatus.APPROVED else "review window passed"
        self.farm.claim(self.private_key, job.job_id, secret)
        self.state.set_phase(job.job_id, S.CLAIMED)
        self.emit("claimed", f"job {job.job_id}: claimed {job.reward / STX:g} STX ({why})", job_id=job.job_id,
                  reward=job.reward)

    def maybe_withdraw(self) -> None:
        threshold = self.config.withdraw_above
        if threshold is None:
            return
        earnings = self.farm.get_earnings(self.address)
        if earnings and earnings >= threshold:
            self.withdraw(earnings)

    def withdraw(self, amount: int | None = None) -> int:
        amount = self.farm.get_earnings(self.address) if amount is None else amount
        if amount:
            self.farm.withdraw(self.private_key, amount)
            self.emit("withdrawn", f"withdrew {amount / STX:g} STX of earnings", amount=amount)
        return amount


class AgentThread:
    """An Agent running in a thread of this process (the demo, the benchmark, the tests): `events`
    collects what it reports as (event, message, fields, time.monotonic()); `wait_for` waits for one."""

    def __init__(self, config: AgentConfig, private_key: str, *, on_event: Callable | None = None, **kwargs):
        self.events: list[tuple[str, str, dict, float]] = []
        self._changed = threading.Condition()
        self._forward = on_event
        self.agent = Agent(config, private_key, on_event=self._record, **kwargs)
        self.thread = threading.Thread(target=self.agent.run, name="agent", daemon=True)

    def _record(self, event: str, message: str, fields: dict) -> None:
        with self._changed:
            self.events.append((event, message, fields, time.monotonic()))
            self._changed.notify_all()
        if self._forward:
            self._forward(event, message, fields)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.agent.stop()
        self.thread.join(60)

    def wait_for(self, event: str, timeout: float = 120, **fields) -> tuple:
        """The first `event` whose fields include `fields`; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for e in self.events:
                    if e[0] == event and all(e[2].get(k) == v for k, v in fields.items()):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or not self.thread.is_alive() and self.thread.ident is not None:
                    raise AssertionError(f"no {event} {fields} within {timeout} s; the agent said: "
                                         f"{[e[1] for e in self.events][-10:]}")
                self._changed.wait(min(left, 0.5))


class RenderFailed(Exception):
    """A frame could not be rendered; `final`: the renderer already retried it."""

    def __init__(self, reason: str, frame: int | None = None, final: bool = False):
        super().__init__(reason)
        self.reason, self.frame, self.final = reason, frame, final


def _frames(job: Job) -> list[int]:
    return list(range(job.frame_start, job.frame_end + 1))


def _minor(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


def default_renderer(config: AgentConfig) -> Callable:
    """render(blend, frames, out_dir, *, job_root, on_frame, skip, on_hardened): the chunk in one sandboxed Blender
    process (server.provider.render.render_chunk, which retries a failing frame once itself)."""
    from server.provider import render

    limits = render.RenderLimits(frame_seconds=config.frame_time_cap, memory_bytes=config.memory_cap)

    def chunk(blend, frames, out_dir, *, job_root, on_frame, skip, on_hardened=None, python=None):
        try:
            return render.render_chunk(blend, frames, out_dir, job_root=job_root, device=config.device,
                                       limits=limits, sandbox=config.sandbox, on_frame=on_frame, skip=skip,
                                       hide=config.hide, on_hardened=on_hardened, python=python)
        except render.RenderError as exc:
            raise RenderFailed(str(exc), exc.frame, final=True) from exc
    return chunk
