"""Per-process caps for a render: wall time per frame, memory, threads.

Memory is capped by the kernel's cgroup memory controller wherever the machine lets the agent use
it, because `RLIMIT_AS` counts address space, not memory: the CUDA driver alone reserves about twice
the GPU's memory, so an address-space cap that a CPU render never notices kills a GPU render at
start. In order of preference:

  cgroup2  a child of the agent's own cgroup v2 group, when its memory controller is delegated to us
  systemd  `systemd-run [--user] --scope -p MemoryMax=…` (cgroup v2 through systemd; probed once that
           the cap really holds, which for --user needs the memory controller delegated)
  cgroup1  a child of the agent's group in the cgroup v1 memory hierarchy (containers that still use it)
  rlimit   RLIMIT_AS inside the process, for CPU renders only
  none     a GPU render on a machine that offers no cgroup: not capped, and the agent logs that
"""

import functools
import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderLimits:
    frame_seconds: float = 600  # wall-clock cap on one frame (from its start to its image on disk)
    load_seconds: float = 300  # wall-clock cap on starting Blender and opening the scene
    memory_bytes: int = 8 << 30  # whole render process (RAM; GPU memory is the driver's business)
    threads: int = 0  # render threads; 0 = one per core
    preview_size: int = 160  # longest side of the preview, px


def _mounts() -> list[tuple[str, str, str, str]]:
    """(mount root, mount point, fs type, super options) of every cgroup mount."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if tail and tail[0] in ("cgroup", "cgroup2"):
            out.append((fields[3], fields[4], tail[0], tail[2] if len(tail) > 2 else ""))
    return out


def _own_group(v1_controller: str | None) -> Path | None:
    """This process's cgroup dir for the v2 hierarchy (None) or a v1 controller, if mounted."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        wanted = controllers == "" if v1_controller is None else v1_controller in controllers.split(",")
        if not wanted:
            continue
        for root, point, fstype, options in _mounts():
            if (v1_controller is None) != (fstype == "cgroup2"):
                continue
            if v1_controller and v1_controller not in options.split(","):
                continue
            if path == root or path.startswith(root.rstrip("/") + "/"):
                return Path(point) / os.path.relpath(path, root)
    return None


def _systemd_run() -> list[str]:
    """systemd-run for a transient scope: the system manager as root, the user's manager otherwise."""
    return ["systemd-run", *([] if os.geteuid() == 0 else ["--user"]), "--scope", "--quiet", "--collect"]


# Run in a probe scope: prints the scope's memory.max, which exists only if the cap is really enforced
# (a user manager without the memory controller delegated would accept MemoryMax= and ignore it).
_PROBE_SCOPE = 'cat "/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)/memory.max"'


@functools.cache
def _systemd_scopes_work() -> bool:
    """systemd as init and willing to put a process into a scope whose memory cap holds (checked once)."""
    if not (os.path.isdir("/run/systemd/system") and shutil.which("systemd-run")):
        return False
    try:
        probe = subprocess.run([*_systemd_run(), "-p", "MemoryMax=64M", "--", "/bin/sh", "-c", _PROBE_SCOPE],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and probe.stdout.strip() == str(64 << 20)


class MemoryCap:
    """The memory cap of one render process. Use `command()` on its argv, `rlimit_as` inside the child,
    `oom_killed()` after it exits, and always `close()`."""

    def __init__(self, limit: int, *, gpu: bool):
        self.limit, self.method, self.group, self.rlimit_as = limit, "none", None, None
        self._unit = f"renderfarm-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # pid: whose group it is
        for method, make in (("cgroup2", self._cgroup2), ("systemd", self._systemd), ("cgroup1", self._cgroup1)):
            try:
                if make():
                    self.method = method
                    return
            except OSError as e:
                log.debug("memory cap via %s unavailable: %s", method, e)
        if not gpu:
            self.method, self.rlimit_as = "rlimit", limit
        else:
            log.warning("no cgroup memory controller available: this GPU render runs without a memory cap "
                        "(RLIMIT_AS would break the GPU driver); see docs/provider.md")

    def _cgroup2(self) -> bool:
        own = _own_group(None)
        if own is None or "memory" not in (own / "cgroup.subtree_control").read_text().split():
            return False
        group = own / self._unit
        group.mkdir()
        self.group = group
        (group / "memory.max").write_text(str(self.limit))
        if (group / "memory.swap.max").exists():
            (group / "memory.swap.max").write_text("0")
        return True

    def _systemd(self) -> bool:
        return _systemd_scopes_work()

    def _cgroup1(self) -> bool:
        own = _own_group("memory")
        if own is None or not (own / "memory.limit_in_bytes").exists():
            return False
        group = own / self._unit
        group.mkdir()
        self.group = group
        (group / "memory.limit_in_bytes").write_text(str(self.limit))
        if (group / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: no swapping past the cap
            (group / "memory.memsw.limit_in_bytes").write_text(str(self.limit))
        return True

    def command(self, argv: Sequence[str]) -> list[str]:
        if self.method == "systemd":
            return [*_systemd_run(), f"--unit={self._unit}",
                    "-p", f"MemoryMax={self.limit}", "-p", "MemorySwapMax=0", "--", *argv]
        if self.group is not None:  # join the group before exec, so not one byte is allocated outside it
            return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.group / "cgroup.procs"), *argv]
        return list(argv)

    def oom_killed(self) -> bool | None:
        """Whether the kernel killed the process for its memory cap; None when it cannot tell."""
        if self.group is None:
            return None
        try:
            if self.method == "cgroup2":
                events = dict(line.split() for line in (self.group / "memory.events").read_text().splitlines())
                return int(events.get("oom_kill", 0)) > 0
            control = dict(line.split() for line in (self.group / "memory.oom_control").read_text().splitlines())
            if "oom_kill" in control:
                return int(control["oom_kill"]) > 0
            return int((self.group / "memory.failcnt").read_text()) > 0
        except OSError:
            return None

    def kill_all(self) -> None:
        """SIGKILL whatever is left in the group (a sandbox escapee from the process group)."""
        if self.group is None:
            return
        try:
            for pid in (self.group / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except OSError:
            pass

    def close(self) -> None:
        if self.group is None:
            return
        self.kill_all()
        for attempt in range(50):
            try:
                self.group.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError as e:  # EBUSY while the last process is still exiting
                if attempt == 49:
                    log.warning("could not remove the render cgroup %s: %s", self.group, e)
                time.sleep(0.1)
        self.group = None
