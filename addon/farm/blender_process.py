"""Start a background Blender process the same way from the project venv and from inside Blender.

From the venv (the `bpy` wheel) the child is `python -I -c CODE ARGS...`; from inside a real Blender it
is `blender -b --factory-startup --python-exit-code 1 --python-expr CODE -- ARGS...`. Either way the
child's code sees its arguments as `ARGS` (a list of strings) and opens a .blend only through
`open_blend(path)`, which switches Python auto-execution off first and opens with `use_scripts=False`,
so neither registered text blocks nor driver expressions of the scene run.

Child code is plain source text (`script_code` reads a module file and appends a call), so it runs the
same whether this add-on is imported as `addon` or as a Blender extension package. bpy-free.
"""

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Prepended to every child's code: ARGS for both launch forms, and the one way to open a scene.
_PRELUDE = r'''
import sys as _sys
ARGS = _sys.argv[_sys.argv.index("--") + 1:] if "--" in _sys.argv else _sys.argv[1:]


def open_blend(path):
    import bpy
    bpy.context.preferences.filepaths.use_scripts_auto_execute = False
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False, use_scripts=False)
    return bpy.context.scene
'''


class BlenderProcessError(RuntimeError):
    """The child Blender exited with an error, printed nothing usable, or ran past its time limit."""


@dataclass(frozen=True)
class BlenderProcess:
    """How to start Blender: the venv's Python with the bpy wheel, or a Blender binary."""

    executable: str
    is_blender_binary: bool

    def command(self, code: str, args: list[str]) -> list[str]:
        code = _PRELUDE + code
        if self.is_blender_binary:
            return [self.executable, "-b", "--factory-startup", "--python-exit-code", "1",
                    "--python-expr", code, "--", *args]
        return [self.executable, "-I", "-c", code, *args]


def current() -> BlenderProcess:
    """The launcher for this process: inside a real Blender its binary, else this venv's Python."""
    bpy = sys.modules.get("bpy")
    binary = getattr(getattr(bpy, "app", None), "binary_path", "") if bpy else ""
    if binary and Path(binary).name.lower().startswith("blender"):
        return BlenderProcess(binary, True)
    return BlenderProcess(sys.executable, False)


def script_code(module_file: str | Path, call: str) -> str:
    """A module's source followed by one call into it, to run as a child's code."""
    return Path(module_file).read_text(encoding="utf-8") + "\n\n" + call + "\n"


def run(code: str, args: list[str] = (), *, timeout: float = 600, threads: int = 0,
        launcher: BlenderProcess | None = None) -> subprocess.CompletedProcess:
    """Run child code in a fresh Blender with its own temp dir and HOME; raise on failure or time-out."""
    launcher = launcher or current()
    with tempfile.TemporaryDirectory(prefix="blender-") as tmp:
        env = {"PATH": os.environ.get("PATH", ""), "TMPDIR": tmp, "HOME": tmp, "PYTHONNOUSERSITE": "1"}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        try:
            result = subprocess.run(launcher.command(code, list(args)), cwd=tmp, env=env, capture_output=True,
                                    text=True, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise BlenderProcessError(f"Blender did not finish within {timeout:g} s") from None
    if result.returncode != 0:
        tail = " | ".join(((result.stderr or "") + (result.stdout or "")).strip().splitlines()[-6:])
        raise BlenderProcessError(f"Blender exited with {result.returncode}: {tail}")
    return result


def tagged_line(result: subprocess.CompletedProcess, tag: str) -> str:
    """The payload of the last stdout line that starts with `tag ` (how children report results)."""
    lines = [line[len(tag) + 1:] for line in result.stdout.splitlines() if line.startswith(tag + " ")]
    if not lines:
        tail = " | ".join(((result.stderr or "") + result.stdout).strip().splitlines()[-6:])
        raise BlenderProcessError(f"Blender printed no {tag} line: {tail}")
    return lines[-1]
