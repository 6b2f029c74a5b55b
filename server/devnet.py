"""The local Stacks chain (contract/devnet, a Node server over Clarinet's simnet), as a subprocess.

`Devnet` starts it, waits until it answers, and stops it: a context manager used by the tests and by
`python -m server devnet`, which runs it in the foreground and prints the URL and funded accounts.
"""

import argparse
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = ROOT / "contract"
SERVER_SCRIPT = CONTRACT_DIR / "devnet" / "server.mjs"
DEFAULT_STATE_DIR = ROOT / "var" / "devnet"
DEFAULT_PORT = 3999  # the API port the Python client's "devnet" profile uses
MICRO = 1_000_000


class DevnetError(RuntimeError):
    """The devnet could not be started or stopped cleanly."""


class Devnet:
    """A devnet subprocess. `port=0` lets the server pick a free port; `url` is known once started.

    Without `state_dir` the chain lives in memory and is new at every start.
    """

    def __init__(self, port: int = 0, state_dir: str | Path | None = None, reset: bool = False,
                 host: str = "127.0.0.1", startup_timeout: float = 120.0, log_to: str | Path | None = None,
                 block_time: float = 0.0, read_only_reads: int = 0):
        self.port = port
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.reset = reset
        self.host = host
        self.startup_timeout = startup_timeout
        self.log_to = log_to  # None: a temporary file, shown when the start fails; "-": our stderr
        self.block_time = block_time  # seconds between blocks; 0 mines each transaction as it arrives
        self.read_only_reads = read_only_reads  # most reads per read-only call, as a node limits them; 0: any
        self.url: str | None = None
        self._process: subprocess.Popen | None = None
        self._log_file = None

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "Devnet":
        if self._process is not None:
            raise DevnetError("this devnet is already running; stop() it first")
        command = self._command()
        if self.log_to is None:
            self._log_file = tempfile.NamedTemporaryFile("w+", prefix="devnet-", suffix=".log", delete=False)
        elif self.log_to != "-":
            self._log_file = open(self.log_to, "a+")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(command, cwd=CONTRACT_DIR, stdout=subprocess.PIPE,
                                         stderr=self._log_file, text=True)
        try:
            ready = self._read_ready_line()
            self.url = ready["url"]
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stdout:
            process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            if self.log_to is None:
                os.unlink(self._log_file.name)
            self._log_file = None

    def __enter__(self) -> "Devnet":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ---- what it serves -------------------------------------------------------------------------

    def accounts(self) -> list[dict]:
        """The funded named accounts: name, address, private_key (public test keys), balance (µSTX)."""
        return self.get("/devnet/accounts")["accounts"]

    def get(self, path: str):
        response = httpx.get(self._require_url() + path, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body) -> dict:
        response = httpx.post(self._require_url() + path, json=body, timeout=60)
        if response.status_code != 200:
            raise DevnetError(f"POST {path} failed with HTTP {response.status_code}: {response.text}")
        return response.json()

    def faucet(self, address: str, amount: int) -> int:
        """Mint `amount` µSTX to `address`; returns its new balance."""
        return int(self.post("/devnet/faucet", {"address": address, "amount": str(amount)})["balance"])

    def advance(self, blocks: int = 0, seconds: int = 0) -> dict:
        """Mine empty blocks and/or move the chain clock forward by at least `seconds`."""
        return self.post("/devnet/advance", {"blocks": blocks, "seconds": seconds})

    # ---- internals ------------------------------------------------------------------------------

    def _command(self) -> list[str]:
        node = shutil.which("node")
        if node is None:
            raise DevnetError("Node.js is not installed: install Node 20+ (e.g. `apt-get install nodejs npm`)")
        if not (CONTRACT_DIR / "node_modules" / "@stacks" / "clarinet-sdk").is_dir():
            raise DevnetError(f"the npm packages are missing in {CONTRACT_DIR}: run `./dev setup`")
        command = [node, str(SERVER_SCRIPT), "--port", str(self.port), "--host", self.host]
        if self.block_time:
            command += ["--block-time", str(self.block_time)]
        if self.read_only_reads:
            command += ["--read-only-reads", str(self.read_only_reads)]
        if self.state_dir is not None:
            command += ["--state", str(self.state_dir)]
            if self.reset:
                command.append("--reset")
        return command

    def _require_url(self) -> str:
        if self.url is None:
            raise DevnetError("the devnet is not running: call start() (or use it as a context manager)")
        return self.url

    def _log_tail(self, lines: int = 30) -> str:
        if self._log_file is None:
            return "(see the messages above)"
        self._log_file.flush()
        with open(self._log_file.name, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()

    def _read_ready_line(self) -> dict:
        """The server prints {"event":"ready","url":…} once it listens; wait for it (or its death)."""
        deadline = time.monotonic() + self.startup_timeout
        selector = selectors.DefaultSelector()
        selector.register(self._process.stdout, selectors.EVENT_READ)
        try:
            while time.monotonic() < deadline:
                if selector.select(timeout=0.2):
                    line = self._process.stdout.readline()
                    if not line:
                        break  # stdout closed: the process is exiting
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue
                    if message.get("event") == "ready":
                        return message
                elif self._process.poll() is not None:
                    break
        finally:
            selector.close()
        self._process.poll()
        if self._process.returncode is not None:
            raise DevnetError(f"the devnet exited with code {self._process.returncode} while starting:\n"
                              f"{self._log_tail()}")
        raise DevnetError(f"the devnet did not start within {self.startup_timeout:.0f} s:\n{self._log_tail()}")

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(self.url + "/v2/info", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DevnetError(f"the devnet at {self.url} does not answer /v2/info:\n{self._log_tail()}")
            time.sleep(0.1)


# ---- `python -m server devnet` ------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port (default {DEFAULT_PORT}, the client's 'devnet' network; 0 = any free)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--state", metavar="DIR", default=str(DEFAULT_STATE_DIR),
                        help="directory that keeps the chain across restarts (default var/devnet)")
    parser.add_argument("--memory", action="store_true", help="keep the chain in memory only (new at every start)")
    parser.add_argument("--reset", action="store_true", help="throw away the chain saved in --state and start anew")
    parser.add_argument("--block-time", type=float, default=0.0, metavar="SECONDS",
                        help="mine a block every SECONDS (transactions stay pending until then, as on testnet); "
                             "default 0 mines each transaction at once")
    parser.add_argument("--read-only-reads", type=int, default=0, metavar="N",
                        help="refuse read-only calls making more than N reads, as a node's "
                             "read_only_call_limit_read_count does (default 0: no limit)")


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be 0..65535, got {args.port}", file=sys.stderr)
        return 2
    if not 0 <= args.block_time <= 3600:
        print(f"error: --block-time must be 0 to 3600 seconds, got {args.block_time:g}", file=sys.stderr)
        return 2
    if args.read_only_reads < 0:
        print(f"error: --read-only-reads must be 0 (no limit) or more, got {args.read_only_reads}", file=sys.stderr)
        return 2
    devnet = Devnet(port=args.port, host=args.host, state_dir=None if args.memory else args.state,
                    reset=args.reset, log_to="-", block_time=args.block_time,
                    read_only_reads=args.read_only_reads)
    try:
        devnet.start()
    except DevnetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        blocks = f", a block every {args.block_time:g} s" if args.block_time else ""
        print(f"Stacks devnet at {devnet.url}  (chain: {'in memory' if args.memory else args.state}{blocks})")
        print("Funded accounts (public test keys; never use them on mainnet or testnet):")
        for account in devnet.accounts():
            stx = int(account["balance"]) / MICRO
            key = account.get("private_key", "?")
            print(f"  {account['name']:<10} {account['address']}  {stx:>16,.6f} STX  key {key}")
        print("Press Ctrl-C to stop.", flush=True)
        while devnet.running:
            time.sleep(0.5)
        print("error: the devnet stopped unexpectedly", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        devnet.stop()
