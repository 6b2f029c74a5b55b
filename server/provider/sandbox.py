"""The OS sandbox every Blender process of the provider runs in (bubblewrap).

A .blend can still read and write files with scripts disabled (geometry-node Import nodes, OSL
`texture()`, compositor File Output), so the renderer does not rely on Blender's own switches alone:
the process sees only the job's files (read-only), one writable output dir, a private /tmp, an empty
HOME and the Python/bpy install (read-only); it has no network, its own PID/IPC/UTS namespaces and no
capabilities. The agent's key file and data dir are never mounted; if one of them lies inside a path
that must be mounted (say the venv), an empty tmpfs or /dev/null is mounted over it.

Rendering without the sandbox needs an explicit `no_sandbox` (the CLI's `--no-sandbox`), and is
logged as a warning every time.
"""

import functools
import glob
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# System directories a dynamically linked Python needs; merged-/usr symlinks (/bin -> usr/bin) are
# recreated as symlinks so nothing else of / shows through.
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Only what the dynamic linker, locale and time zone code read from /etc (not passwd, shadow, ssl keys).
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives")
# GPU device nodes: NVIDIA (CUDA/OptiX), AMD (HIP: kfd + dri), Intel (oneAPI: dri).
_GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset",
                "/dev/nvidia[0-9]*", "/dev/nvidia-caps", "/dev/kfd", "/dev/dri")

SANDBOX_HOME = "/tmp/home"
KERNEL_CACHE = SANDBOX_HOME + "/.cache"
# Where the NVIDIA driver keeps its CUDA JIT and OptiX caches when told (their defaults are ~/.nv and /var/tmp).
KERNEL_CACHE_ENV = {"CUDA_CACHE_PATH": KERNEL_CACHE + "/nv-compute", "OPTIX_CACHE_PATH": KERNEL_CACHE + "/nv-optix"}


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here; rendering is refused."""


def no_sandbox_warning(what: str) -> None:
    """Said every time something runs unsandboxed, so it cannot go unnoticed in a service log."""
    log.warning("!!! %s WITHOUT A SANDBOX (--no-sandbox): the scene can read every file this user can read, "
                "including the key file, and write anywhere. Use this only for development.", what.upper())


@functools.cache
def bwrap() -> str:
    """The bwrap binary, checked once per process by running a trivial sandbox."""
    path = shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: run `./dev setup` or `apt-get install "
                                 "bubblewrap`; for development only, start the agent with --no-sandbox")
    probe = subprocess.run([path, *_base_args(), "--", "/usr/bin/true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        raise SandboxUnavailable(f"bubblewrap cannot create its sandbox here ({probe.stderr.strip()}): allow user "
                                 "namespaces (sysctl kernel.unprivileged_userns_clone=1 or "
                                 "user.max_user_namespaces > 0) or run the agent as root; for development only, "
                                 "start the agent with --no-sandbox")
    return path


def _base_args() -> list[str]:
    args = ["--unshare-all", "--die-with-parent", "--cap-drop", "ALL", "--hostname", "render",
            "--proc", "/proc", "--dev", "/dev"]
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def python_install(python: str | None = None) -> list[Path]:
    """What an interpreter needs to start again inside the sandbox: its venv and base install (this
    process's, or those of `python`, another venv's interpreter with another bpy)."""
    prefix, base, executable = (sys.prefix, sys.base_prefix, sys.executable) if python is None else \
        _interpreter_roots(python)
    roots = {Path(prefix), Path(base)}
    roots |= {p.resolve() for p in roots} | {Path(executable).resolve().parent.parent}
    # A tree already mounted at the same place through its parent needs no mount of its own.
    roots = {p for p in roots if not any(p != q and p.is_relative_to(q) and p.resolve().is_relative_to(q.resolve())
                                         for q in roots)}
    return sorted(roots)


@functools.lru_cache(maxsize=16)
def _interpreter_roots(python: str) -> tuple[str, str, str]:
    """sys.prefix, sys.base_prefix and sys.executable of another interpreter, asked once."""
    try:
        answer = subprocess.run([python, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix); "
                                 "print(sys.executable)"], capture_output=True, text=True, timeout=30, check=True)
        prefix, base, executable = answer.stdout.split("\n")[:3]
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise SandboxUnavailable(f"cannot start the Blender python {python} ({exc}): check --blender "
                                 "VERSION=PYTHON") from None
    return prefix, base, executable


@dataclass(frozen=True)
class Sandbox:
    """A bubblewrap command line for one process.

    read_only: the job's files; writable: the one output dir; tmp: a host dir mounted as the private
    /tmp (so the process has its own temp dir on disk, not in RAM); hide: paths never to show (the
    agent's key file and data dir) even if they lie inside something mounted; gpu: pass GPU device
    nodes and /sys through (drivers enumerate devices there); kernel_cache: a dir of the agent's,
    mounted writable at KERNEL_CACHE, where GPU drivers keep compiled kernels between processes
    (a fresh HOME per process would otherwise recompile them every chunk).
    """

    read_only: Sequence[Path]
    writable: Path
    tmp: Path
    hide: Sequence[Path] = ()
    gpu: bool = False
    kernel_cache: Path | None = None
    extra_read_only: Sequence[Path] = field(default_factory=python_install)

    def command(self, argv: Sequence[str]) -> list[str]:
        args = [bwrap(), *_base_args(), "--bind", str(self.tmp), "/tmp", "--dir", SANDBOX_HOME, "--chdir", "/tmp"]
        mounted = []
        for path in [*self.extra_read_only, *self.read_only]:
            path = Path(path)
            if path.exists():
                args += ["--ro-bind", str(path.resolve()), str(path)]
                mounted.append(path)
        args += ["--bind", str(Path(self.writable).resolve()), str(self.writable)]
        mounted.append(Path(self.writable))
        if self.kernel_cache is not None:
            args += ["--bind", str(Path(self.kernel_cache).resolve()), KERNEL_CACHE]
        if self.gpu:
            args += ["--ro-bind", "/sys", "/sys"]
            for pattern in _GPU_DEVICES:
                for node in glob.glob(pattern):
                    args += ["--dev-bind", node, node]
        args += self._hiding(mounted)
        return [*args, "--", *argv]

    def _hiding(self, mounted: list[Path]) -> list[str]:
        """Mount empty things over hidden paths that fall inside a mounted tree (later mounts win)."""
        args = []
        for hidden in (h for h in map(Path, self.hide) if h.exists()):
            real = hidden.resolve()
            for dest in mounted:
                if real.is_relative_to(dest.resolve()):
                    where = str(dest / real.relative_to(dest.resolve()))
                    args += ["--tmpfs", where] if real.is_dir() else ["--ro-bind", "/dev/null", where]
        return args


def sandboxed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed process: nothing of the agent's leaks in."""
    return {"PATH": "/usr/bin:/bin", "HOME": SANDBOX_HOME, "TMPDIR": "/tmp", "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1", **(extra or {})}
