"""`python -m server provider COMMAND`: run a provider agent and manage its registration.

The key comes from an encrypted key file (`keygen` makes one); its passphrase from a prompt, the
environment variable RENDER_FARM_PASSPHRASE, or a file descriptor (`--passphrase-fd N`).
"""

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from addon.farm import keystore
from addon.stacks.errors import StacksError
from server.provider.sandbox import SandboxUnavailable

STX = 1_000_000
DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "render-farm-provider"
console = Console(stderr=True)


# ---- arguments ------------------------------------------------------------------------------------

def _stx(text: str) -> int:
    try:
        return round(float(text) * STX)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of STX (e.g. 10 or 0.5)") from None


def _mapping(text: str) -> tuple[str, str]:
    version, sep, python = text.partition("=")
    if not sep or not version or not python:
        raise argparse.ArgumentTypeError(f"--blender wants VERSION=PYTHON (e.g. 4.2=/opt/bpy42/bin/python), "
                                         f"got {text!r}")
    return version, python


def _common(parser: argparse.ArgumentParser, *, key=True, node=True) -> None:
    if key:
        parser.add_argument("--key-file", type=Path, required=True, help="encrypted key file (see keygen)")
        parser.add_argument("--passphrase-fd", type=int, metavar="N",
                            help="read the passphrase's first line from file descriptor N "
                                 f"(else ${keystore.PASSPHRASE_ENV}, else a prompt)")
    if node:
        parser.add_argument("--node", required=True, help="Stacks node / API URL, e.g. http://127.0.0.1:3999")
        parser.add_argument("--network", choices=("devnet", "testnet", "mainnet"), default="devnet",
                            help="chain the node serves (default: devnet)")
        parser.add_argument("--contract", help="render-farm contract id ADDRESS.render-farm "
                                               "(default on a local devnet: its deployer's)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"agent state, scenes and frames (default: {DEFAULT_DATA_DIR})")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text for a terminal, json for JSON lines (services)")


def _resources(parser: argparse.ArgumentParser, *, with_bond=True) -> None:
    parser.add_argument("--gpus", type=int, default=1, help="GPUs offered: at most this many jobs at once (default 1)")
    parser.add_argument("--gpu-memory", type=int, default=8192, help="memory per GPU in MiB (default 8192)")
    parser.add_argument("--price", type=int, default=1_000, help="µSTX per complexity unit (default 1000)")
    parser.add_argument("--benchmark-score", type=int,
                        help="score to publish (default: run the built-in benchmark if available, else 100)")
    parser.add_argument("--device", default="auto",
                        help="render device: auto (the best GPUs found, else the CPU), CPU, OPTIX, CUDA, HIP, ONEAPI, "
                             "METAL, or KIND:ID from `devices` (default auto)")
    if with_bond:
        parser.add_argument("--bond", type=_stx, default=10 * STX,
                            help="bond in STX locked at registration (default 10)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("run", help="run the agent: take assigned jobs, render, upload, get paid",
                       description="Run the provider agent until stopped (Ctrl-C or SIGTERM: a clean stop "
                                   "switches availability off; the work in hand carries on at the next start).")
    _common(p)
    _resources(p)
    p.add_argument("--relay", action="append", default=[], metavar="URL",
                   help="relay to use (repeatable); without it, the relay each job names")
    p.add_argument("--max-scene-bytes", type=int, default=4 << 30, help="decline larger scenes (default 4 GiB)")
    p.add_argument("--max-requester-rejection-rate", type=float, default=0.5,
                   help="decline requesters who rejected more than this share of their jobs (default 0.5)")
    p.add_argument("--requester-min-jobs", type=int, default=3,
                   help="apply the rejection rate once a requester has this many jobs (default 3)")
    p.add_argument("--min-accept-seconds", type=int, default=60,
                   help="decline jobs with less of their accept window left (chain seconds, default 60)")
    p.add_argument("--blender", action="append", type=_mapping, default=[], metavar="VERSION=PYTHON",
                   help="another Blender version this agent can render with: the python of a venv with that bpy")
    p.add_argument("--decline-risky-scenes", action="store_true",
                   help="decline scenes that need what the renderer switches off for safety (Freestyle script "
                        "line styles, OSL, compositor file outputs) instead of rendering them without")
    p.add_argument("--no-sandbox", action="store_true",
                   help="DEVELOPMENT ONLY: render without the OS sandbox (a hostile scene could read your files)")
    p.add_argument("--frame-time-cap", type=float, default=600, help="seconds a frame may take (default 600)")
    p.add_argument("--withdraw-above", type=_stx, help="withdraw earnings once they reach this many STX")
    p.add_argument("--poll-seconds", type=float, default=0.5, help="how often to look at the chain (default 0.5)")
    p.add_argument("--no-progress", action="store_true", help="no live progress view, log lines only")

    p = sub.add_parser("register", help="register this key as a provider (locks the bond)")
    _common(p)
    _resources(p)
    p = sub.add_parser("update", help="publish new resources, price or benchmark score")
    _common(p)
    _resources(p, with_bond=False)
    p = sub.add_parser("status", help="the provider's record on chain, earnings, local jobs and pending transactions")
    _common(p)
    p = sub.add_parser("withdraw", help="move earnings to the wallet")
    _common(p)
    p.add_argument("--amount", type=_stx, help="STX to withdraw (default: all earnings)")
    p = sub.add_parser("unregister", help="leave the market; the bond is paid back (no job may be open)")
    _common(p)
    p = sub.add_parser("benchmark", help="run the built-in benchmark scene and print the score")
    p.add_argument("--device", default="CPU", help="render device (default CPU)")
    p.add_argument("--log-format", choices=("text", "json"), default="text", help=argparse.SUPPRESS)
    p = sub.add_parser("devices", help="list the render devices Cycles finds and why a GPU is not used")
    p = sub.add_parser("keygen", help="create an encrypted key file and print its address")
    p.add_argument("--key-file", type=Path, required=True, help="where to write it (refuses to overwrite)")
    p.add_argument("--network", choices=("testnet", "mainnet"), default="testnet",
                   help="address network (devnet uses testnet addresses; default testnet)")
    p.add_argument("--passphrase-fd", type=int, metavar="N", help="read the passphrase from file descriptor N")
    p.add_argument("--mnemonic", action="store_true",
                   help="make a new 24-word BIP-39 mnemonic (shown once, write it down) instead of a bare key")
    p.add_argument("--import-mnemonic", action="store_true", help="type in an existing mnemonic (account 0)")


# ---- logs -----------------------------------------------------------------------------------------

class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                "event": getattr(record, "event", record.name), "message": record.getMessage()}
        line.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)


# ---- helpers ----------------------------------------------------------------------------------------

def _unlock(args) -> str:
    store = keystore.load_keystore(args.key_file)
    passphrase = keystore.read_passphrase(fd=args.passphrase_fd, prompt_text=f"Passphrase for {store.address}: ")
    return store.unlock(passphrase).private_key


def _contract(args) -> str:
    if args.contract:
        return args.contract
    try:
        accounts = httpx.get(args.node.rstrip("/") + "/devnet/accounts", timeout=10).json()["accounts"]
    except (httpx.HTTPError, ValueError, KeyError):
        raise SystemExit("pass --contract ADDRESS.render-farm (the node is not a local devnet that names it)") from None
    return next(a["address"] for a in accounts if a["name"] == "deployer") + ".render-farm"


def _farm(args, *, journaled: bool = True):
    """The contract; chain writes go through the agent's journal in --data-dir, so a command run while
    the agent runs takes the next free nonce and is remembered like the agent's own writes."""
    from addon.farm.contract import RenderFarm
    from addon.farm.tx_journal import TxJournal
    from addon.stacks.api import StacksClient

    journal = TxJournal(args.data_dir / "agent.sqlite") if journaled else None
    return RenderFarm(StacksClient(args.network, api_url=args.node), _contract(args), journal=journal)


def _score(args) -> int:
    if args.benchmark_score is not None:
        return args.benchmark_score
    try:
        from addon.farm.benchmark import run_benchmark
    except ImportError:
        console.print("[yellow]no built-in benchmark in this build: publishing score 100 (--benchmark-score N)[/]")
        return 100
    result = run_benchmark(device=_device(args))
    console.print(f"benchmark on {result.device}: score {result.score} in {result.seconds:.1f} s")
    return int(result.score)


def _device(args) -> str:
    """--device auto resolved through Cycles' detection; the reason a GPU is not used is logged."""
    if args.device.lower() != "auto":
        return args.device
    from server.provider import devices

    if getattr(args, "_resolved_device", None):
        return args._resolved_device

    found = devices.detect()
    for line in found.explain():
        logging.getLogger("provider").info(line, extra={"event": "device"})
    chosen = devices.select(found.devices, "auto")
    args._resolved_device = "CPU" if chosen[0].kind == "CPU" else chosen[0].kind
    return args._resolved_device


def _config(args, private_key: str):
    from server.provider.agent import AgentConfig

    return AgentConfig(
        node_url=args.node, contract_id=_contract(args), data_dir=args.data_dir, network=args.network,
        relays=tuple(args.relay), gpu_count=args.gpus, gpu_memory=args.gpu_memory, benchmark_score=_score(args),
        price_per_unit=args.price, bond=args.bond, device=_device(args), max_scene_bytes=args.max_scene_bytes,
        max_requester_rejection_rate=args.max_requester_rejection_rate, requester_min_jobs=args.requester_min_jobs,
        min_accept_seconds=args.min_accept_seconds, blender=dict(args.blender), sandbox=not args.no_sandbox,
        decline_risky_scenes=args.decline_risky_scenes,
        frame_time_cap=args.frame_time_cap, withdraw_above=args.withdraw_above, poll_seconds=args.poll_seconds,
        hide=(args.key_file.resolve(),))


# ---- commands -----------------------------------------------------------------------------------------

def cmd_run(args) -> int:
    from server.provider.agent import Agent

    private_key = _unlock(args)
    if args.no_sandbox:
        logging.getLogger("provider").warning(
            "RUNNING WITHOUT THE SANDBOX (--no-sandbox): a hostile scene can read and write your files; "
            "use this only for development with scenes you made yourself", extra={"event": "no_sandbox"})
    agent = Agent(_config(args, private_key), private_key)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: agent.stop())
    live = None
    if not args.no_progress and args.log_format == "text" and console.is_terminal:
        live = Live(_view(agent), console=console, refresh_per_second=4)
        agent.on_event = lambda *_: live.update(_view(agent))
        live.start()
    try:
        agent.run()
    finally:
        if live:
            live.stop()
    return 0


def _view(agent) -> Table:
    table = Table(title=f"provider {agent.address}", expand=False)
    for column in ("job", "phase", "rendered", "uploaded", "elapsed", "detail"):
        table.add_column(column)
    for view in list(agent.views.values()):
        table.add_row(str(view.job_id), view.phase, f"{view.rendered}/{view.frames_total}",
                      f"{view.uploaded}/{view.frames_total}", f"{time.monotonic() - view.started:.0f} s", view.detail)
    return table


def cmd_register(args) -> int:
    from addon.stacks import keys

    private_key = _unlock(args)
    farm = _farm(args)
    address = keys.address_from_private_key(private_key, farm.client.network.address_network)
    known = farm.get_provider(address)
    if known and known.registered:
        print(f"{address} is registered already (bond {known.bond / STX:g} STX); use `update` to change resources")
        return 0
    farm.register_provider(private_key, gpu_count=args.gpus, gpu_memory=args.gpu_memory,
                           benchmark_score=_score(args), price_per_unit=args.price, bond=args.bond)
    print(f"registered {address}: {args.gpus} GPU(s), bond {args.bond / STX:g} STX")
    return 0


def cmd_update(args) -> int:
    private_key = _unlock(args)
    farm = _farm(args)
    farm.update_resources(private_key, gpu_count=args.gpus, gpu_memory=args.gpu_memory,
                          benchmark_score=_score(args), price_per_unit=args.price)
    print("resources updated")
    return 0


def cmd_status(args) -> int:
    from addon.farm.keystore import load_keystore

    address = load_keystore(args.key_file).address  # no passphrase needed to look
    farm = _farm(args, journaled=False)
    provider = farm.get_provider(address)
    table = Table(title=f"provider {address}")
    table.add_column("what")
    table.add_column("value")
    if provider is None or not provider.registered:
        table.add_row("registered", "no")
    else:
        for name in ("available", "gpu_count", "gpu_memory", "benchmark_score", "price_per_unit", "reputation",
                     "active_jobs", "total_jobs", "successful_jobs", "rejected_jobs", "expired_jobs"):
            table.add_row(name.replace("_", " "), str(getattr(provider, name)))
        table.add_row("bond", f"{provider.bond / STX:g} STX ({provider.bond_reserved / STX:g} reserved)")
        table.add_row("total earned", f"{provider.total_earned / STX:g} STX")
    table.add_row("earnings to withdraw", f"{farm.get_earnings(address) / STX:g} STX")
    state_file = args.data_dir / "agent.sqlite"
    if state_file.exists():
        import sqlite3

        db = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True)
        try:
            jobs = db.execute("SELECT job_id, phase, detail FROM jobs ORDER BY job_id DESC LIMIT 10").fetchall()
            pending = db.execute("SELECT function, nonce, txid FROM txs WHERE status = 'pending'").fetchall()
        except sqlite3.OperationalError:
            jobs, pending = [], []
        finally:
            db.close()
        for job_id, phase, detail in jobs:
            table.add_row(f"job {job_id}", phase + (f": {detail}" if detail else ""))
        for function, nonce, txid in pending:
            table.add_row("pending tx", f"{function} nonce {nonce} 0x{txid[:16]}…")
    Console().print(table)
    return 0


def cmd_withdraw(args) -> int:
    from addon.stacks import keys

    private_key = _unlock(args)
    farm = _farm(args)
    address = keys.address_from_private_key(private_key, farm.client.network.address_network)
    amount = args.amount if args.amount is not None else farm.get_earnings(address)
    if not amount:
        print("no earnings to withdraw")
        return 0
    farm.withdraw(private_key, amount)
    print(f"withdrew {amount / STX:g} STX")
    return 0


def cmd_unregister(args) -> int:
    private_key = _unlock(args)
    bond = _farm(args).deregister_provider(private_key)
    print(f"unregistered; bond of {bond / STX:g} STX paid back")
    return 0


def cmd_benchmark(args) -> int:
    try:
        from addon.farm.benchmark import run_benchmark
    except ImportError:
        print("the built-in benchmark is not part of this build yet (addon/farm/benchmark.py)", file=sys.stderr)
        return 1
    result = run_benchmark(device=args.device)
    print(f"score {result.score} on {result.device} ({result.seconds:.1f} s; 100 = the reference machine)")
    return 0


def cmd_devices(args) -> int:
    from server.provider import devices

    try:
        found = devices.detect()
    except devices.DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(found.explain()))
    return 0


def cmd_keygen(args) -> int:
    from mnemonic import Mnemonic

    if args.key_file.exists():
        raise SystemExit(f"{args.key_file} exists already: it may hold the only copy of a key; choose another path")
    words = None
    if args.import_mnemonic:
        import getpass

        words = getpass.getpass("Mnemonic (24 or 12 words, not shown): ")
    elif args.mnemonic:
        words = Mnemonic("english").generate(256)
    passphrase = keystore.read_passphrase(fd=args.passphrase_fd, confirm=True,
                                          prompt_text="New passphrase for the key file: ")
    store = keystore.create_keystore(args.key_file, passphrase, mnemonic=words, network=args.network)
    if args.mnemonic:
        print("Write these words down and keep them offline; they are the only backup of this key:\n"
              f"  {words}\n", file=sys.stderr)
    print(store.address)
    return 0


COMMANDS = {"run": cmd_run, "register": cmd_register, "update": cmd_update, "status": cmd_status,
            "withdraw": cmd_withdraw, "unregister": cmd_unregister, "benchmark": cmd_benchmark,
            "devices": cmd_devices, "keygen": cmd_keygen}


def run(args: argparse.Namespace) -> int:
    setup_logging(getattr(args, "log_format", "text"))
    try:
        return COMMANDS[args.action](args)
    except keystore.KeystoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (StacksError, SandboxUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
