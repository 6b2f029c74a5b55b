"""Start a real relay process on a free loopback port (tests, benchmarks, demos)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RelayProcess:
    """`python -m server.relay` in a subprocess; `restart()` keeps the data dir and port."""

    def __init__(
        self,
        data_dir: Path,
        jobs_table: Path | None = None,
        port: int | None = None,
        extra_args: list[str] | None = None,
        env: dict | None = None,
        log_path: Path | None = None,
    ):
        self.data_dir, self.jobs_table = Path(data_dir), jobs_table
        self.port = port or free_port()
        self.extra_args, self.env = list(extra_args or []), env or {}
        self.log_path = log_path or self.data_dir.parent / f"relay-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> RelayProcess:
        args = [sys.executable, "-m", "server.relay", "--data", str(self.data_dir), "--port", str(self.port)]
        if self.jobs_table:
            args += ["--jobs-table", str(self.jobs_table)]
        env = os.environ | {"PYTHONPATH": str(ROOT)} | self.env
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args + self.extra_args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"relay exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"relay did not come up within {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()

    def restart(self) -> RelayProcess:
        self.kill()
        return self.start()

    def _close_log(self) -> None:
        log = getattr(self, "_log", None)
        if log and not log.closed:
            log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class RelayHarness:
    """A relay plus the local job table it reads job parties from, for tests and benchmarks.

    The job table stands in for the chain where the chain is not what is under test.
    """

    def __init__(self, root: Path, extra_args: list[str] | None = None, env: dict | None = None):
        from .authority import TableJobAuthority

        root.mkdir(parents=True, exist_ok=True)
        self.jobs = TableJobAuthority(str(root / "jobs.sqlite3"))
        base_env = {"RELAY_AUTHORITY_TTL": "0", "RELAY_LOG_LEVEL": "warning"}
        self.relay = RelayProcess(
            root / "data", jobs_table=root / "jobs.sqlite3", extra_args=extra_args, env=base_env | (env or {})
        )

    @property
    def url(self) -> str:
        return self.relay.url

    def __enter__(self):
        self.relay.start()
        return self

    def __exit__(self, *exc):
        self.relay.stop()
