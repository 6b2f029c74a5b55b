"""A hostile scene can do nothing to the provider.

One scene per attack. Each test first shows the attack working when nothing protects against it
(the control: Blender's defaults, or scripts disabled and nothing more), then renders the same scene
through render_chunk (sandbox + hardening) and finds no marker anywhere, no outside file's content in
the image and nothing changed outside the output dir. The attacks that survive `use_scripts=False`
are also run in the sandbox alone, without the hardening, to show each layer holds by itself.
"""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from server.provider import sandbox as sandbox_module
from server.provider.render import inspect_scene, render_chunk
from server.provider.sandbox import Sandbox, python_install, sandboxed_env
from tests.provider_scenes import build, files_under, pixels, unprotected_argv, unprotected_render, write_png

GREEN = (0, 255, 0)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An agent's layout: a data dir with jobs in it and a key file beside it, and a dir outside
    everything that holds the secrets and is where the attacks try to write."""
    root = tmp_path_factory.mktemp("world")
    outside = root / "outside"
    outside.mkdir()
    write_png(outside / "secret.png", GREEN)
    (outside / "secret.txt").write_text("SECRET KEY")
    data = root / "agent-data"
    (data / "jobs").mkdir(parents=True)
    (data / "state.sqlite").write_text("agent state")
    key = root / "provider.key"
    key.write_text("encrypted key")
    return {"root": root, "outside": outside, "data": data, "key": key}


def _job(world, kind: str, *args) -> Path:
    return build(kind, world["data"] / "jobs" / kind / "scene.blend", *args)


def _protected(world, blend: Path, out: Path):
    """render_chunk as the agent calls it; returns (frames, what the scene contained)."""
    risks = []
    frames = render_chunk(blend, [1], out, job_root=blend.parent, hide=[world["key"], world["data"]],
                          on_hardened=risks.append)
    assert sorted(p.name for p in out.iterdir()) == ["frame_00001.png", "preview_00001.png"]
    return frames, risks[0]


def _sandbox_only(world, blend: Path, out: Path, tmp: Path) -> subprocess.CompletedProcess:
    """The unprotected render (scripts off, no hardening) inside the sandbox: the sandbox alone."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    box = Sandbox([blend.parent], out.parent, tmp, hide=[world["key"], world["data"]])
    result = subprocess.run(box.command(unprotected_argv(blend, out)), env=sandboxed_env(), capture_output=True,
                            text=True, timeout=300)
    assert out.exists(), result.stdout + result.stderr
    return result


def _outside_untouched(world, before: set[Path]) -> None:
    assert files_under(world["outside"]) == before, "something was written outside the sandbox"


@pytest.mark.parametrize("kind", ["text_block", "driver", "handler"])
def test_scripts_in_the_scene_never_run(world, tmp_path, kind):
    marker = world["outside"] / f"{kind}.marker"
    blend = _job(world, kind, marker)
    # Control: Blender's own default (scripts trusted) runs them.
    unprotected_render(blend, tmp_path / "control.png", scripts=True)
    assert marker.exists(), f"control failed: the {kind} did not run even when scripts were allowed"
    marker.unlink()
    before = files_under(world["outside"])
    _, risks = _protected(world, blend, tmp_path / "out")
    assert not marker.exists()
    _outside_untouched(world, before)
    assert risks.scripts and not risks.switched_off  # reported as present, never run, nothing to switch off


def test_freestyle_python_style_module(world, tmp_path):
    marker = world["outside"] / "freestyle.marker"
    blend = _job(world, "freestyle", marker, world["outside"] / "secret.txt")
    # Control: with scripts disabled, Freestyle still runs the scene's style module, which reads a secret.
    unprotected_render(blend, tmp_path / "control.png")
    assert marker.read_text() == "freestyle ran; read: SECRET KEY", "control failed: the style module did not run"
    marker.unlink()
    before = files_under(world["outside"])
    # The sandbox alone: the module runs but can neither read the secret nor write the marker.
    result = _sandbox_only(world, blend, tmp_path / "boxed" / "frame.png", tmp_path / "boxtmp")
    assert not marker.exists() and "SECRET KEY" not in result.stdout + result.stderr
    # Sandbox and hardening: the module is removed before rendering, and the agent is told.
    _, risks = _protected(world, blend, tmp_path / "out")
    assert not marker.exists()
    _outside_untouched(world, before)
    assert any("Freestyle Python style modules (style.py)" in x for x in risks.switched_off)


def test_osl_script_node_reading_an_outside_image(world, tmp_path):
    blend = _job(world, "osl", world["outside"] / "secret.png")
    # Control: stored OSL bytecode runs with scripts disabled, and texture() paints the secret green image.
    unprotected_render(blend, tmp_path / "control.png")
    assert _green(tmp_path / "control.png") > 0.9, "control failed: the OSL node did not read the outside image"
    result = _sandbox_only(world, blend, tmp_path / "boxed" / "frame.png", tmp_path / "boxtmp")
    assert _green(tmp_path / "boxed" / "frame.png") == 0, result.stdout
    frames, risks = _protected(world, blend, tmp_path / "out")
    assert _green(frames[0].image) == 0
    assert any("OSL script node 'Script' (stored bytecode)" in x for x in risks.switched_off)
    assert any("Open Shading Language switched on" in x for x in risks.switched_off)


def test_an_image_texture_outside_the_job(world, tmp_path):
    blend = _job(world, "image_texture", world["outside"] / "secret.png")
    unprotected_render(blend, tmp_path / "control.png")
    assert _green(tmp_path / "control.png") > 0.9, "control failed: the outside image is not in the frame"
    frames, risks = _protected(world, blend, tmp_path / "out")
    assert _green(frames[0].image) == 0  # Blender's missing-texture pink instead
    assert [Path(p).name for p in risks.outside_paths] == ["secret.png"] and not risks.switched_off
    assert risks.reasons() == ["refers to a file outside the job, which the render cannot see: "
                               + risks.outside_paths[0]]


@pytest.mark.parametrize("path", ["direct", "computed"])
def test_geometry_nodes_import_text_of_an_outside_file(world, tmp_path, path):
    blend = build("import_text", world["data"] / "jobs" / f"import_{path}" / "scene.blend",
                  world["outside"] / "secret.txt", path)
    # Control: the Import Text node reads the secret and the scene draws it as white letters on black.
    unprotected_render(blend, tmp_path / "control.png")
    assert _white_pixels(tmp_path / "control.png") > 20, "control failed: the secret text is not in the image"
    _sandbox_only(world, blend, tmp_path / "boxed" / "frame.png", tmp_path / "boxtmp")
    assert _white_pixels(tmp_path / "boxed" / "frame.png") == 0
    frames, risks = _protected(world, blend, tmp_path / "out")
    assert _white_pixels(frames[0].image) == 0
    # Not switched off (reading the job's own files is legitimate); the sandbox shows it nothing else.
    assert any("Import Text node" in x for x in risks.file_imports) and not risks.switched_off
    if path == "direct":
        assert [Path(p).name for p in risks.outside_paths] == ["secret.txt"]
    else:  # blend_paths() does not see a path made in the tree: only the sandbox stops this one
        assert "reading a path computed in the node tree" in risks.file_imports[0] and not risks.outside_paths


@pytest.mark.parametrize("kind", ["file_output", "linked_file_output"])
def test_compositor_file_output_aimed_outside(world, tmp_path, kind):
    planted = world["outside"] / "planted"
    blend = _job(world, kind, planted)
    # Control: with scripts disabled, the File Output node writes a copy of the frame outside.
    unprotected_render(blend, tmp_path / "control.png")
    assert list(planted.glob("planted_*")), "control failed: the File Output node wrote nothing"
    for written in planted.iterdir():
        written.unlink()
    planted.rmdir()
    before = files_under(world["outside"])
    _sandbox_only(world, blend, tmp_path / "boxed" / "frame.png", tmp_path / "boxtmp")
    _outside_untouched(world, before)
    _, risks = _protected(world, blend, tmp_path / "out")
    _outside_untouched(world, before)
    assert not planted.exists()
    assert any("compositor File Output node 'File Output' writing to" in x for x in risks.switched_off)
    # Removed also when it sits in linked library data: Blender edits it in memory, the file is not saved.


def test_inspect_scene_names_what_would_be_switched_off_without_changing_the_file(world, tmp_path):
    blend = _job(world, "file_output", world["outside"] / "planted")
    before = blend.read_bytes()
    risks = inspect_scene(blend, hide=[world["key"], world["data"]])
    assert risks.file_outputs and risks.reasons()[0].startswith("needs a feature the provider switches off")
    assert blend.read_bytes() == before


# Code that got to run inside the sandbox (as a Freestyle module would) tries everything it should not.
PROBE = r"""
import json, os, socket, sys
checks = json.loads(sys.argv[1])
seen = {}
for name, path in checks["read"].items():
    try:
        seen[name] = open(path).read()[:20]
    except OSError as e:
        seen[name] = type(e).__name__
for name, path in checks["write"].items():
    try:
        open(path, "w").write("x")
        seen[name] = "written"
    except OSError as e:
        seen[name] = type(e).__name__
for name, path in checks["list"].items():
    try:
        seen[name] = sorted(os.listdir(path))
    except OSError as e:
        seen[name] = type(e).__name__
try:
    socket.create_connection(("127.0.0.1", checks["port"]), timeout=3).close()
    seen["network"] = "connected"
except OSError as e:
    seen["network"] = type(e).__name__
seen["processes"] = len([p for p in os.listdir("/proc") if p.isdigit()])
seen["home"] = os.environ.get("HOME")
print("SEEN " + json.dumps(seen))
"""


def test_code_inside_the_sandbox_reaches_nothing_outside_it(world, tmp_path):
    job = world["data"] / "jobs" / "probe"
    job.mkdir()
    (job / "scene.blend").write_text("job file")
    other_job = world["data"] / "jobs" / "other"
    other_job.mkdir()
    (other_job / "scene.blend").write_text("another requester's scene")
    # Agent files that happen to lie inside a mounted tree are covered up with `hide`.
    (job / "agent.key").write_text("misplaced key")
    (job / "agent-cache").mkdir()
    (job / "agent-cache" / "state").write_text("state")
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    tmp.mkdir()
    listener = socket.create_server(("127.0.0.1", 0))
    home = Path.home()
    checks = {"read": {"key": str(world["key"]), "state": str(world["data"] / "state.sqlite"),
                       "secret": str(world["outside"] / "secret.txt"), "other_job": str(other_job / "scene.blend"),
                       "job": str(job / "scene.blend"), "passwd": "/etc/passwd",
                       "hidden_key": str(job / "agent.key")},
              "write": {"job_write": str(job / "planted"), "outside_write": str(world["outside"] / "planted"),
                        "out_write": str(out / "frame.png"), "tmp_write": "/tmp/scratch"},
              "list": {"agent_home": str(home), "data": str(world["data"]), "jobs": str(world["data"] / "jobs"),
                       "hidden_dir": str(job / "agent-cache")},
              "port": listener.getsockname()[1]}
    argv = [sys.executable, "-I", "-c", PROBE, json.dumps(checks)]
    try:
        free = _seen(subprocess.run(argv, capture_output=True, text=True, timeout=60))
        box = Sandbox([job], out, tmp, hide=[world["key"], world["data"], job / "agent.key", job / "agent-cache"])
        boxed = _seen(subprocess.run(box.command(argv), env=sandboxed_env(), capture_output=True, text=True,
                                     timeout=60))
    finally:
        listener.close()
    # Control: the same code outside the sandbox reads the key, the state and the secret, and connects.
    assert free["key"] == "encrypted key" and free["secret"] == "SECRET KEY" and free["network"] == "connected"
    assert free["outside_write"] == "written" and free["job_write"] == "written"
    assert free["hidden_key"] == "misplaced key" and free["hidden_dir"] == ["state"]
    (world["outside"] / "planted").unlink()
    (job / "planted").unlink()
    # Inside: only the job (read-only), the output dir and a private /tmp.
    for name in ("key", "state", "secret", "other_job", "passwd"):
        assert boxed[name] == "FileNotFoundError", (name, boxed[name])
    assert boxed["job"] == "job file" and boxed["job_write"] == "OSError"  # read-only (EROFS)
    # /dev/null mounted over the file (not even readable: nodev) and an empty tmpfs over the dir
    assert boxed["hidden_key"] == "PermissionError" and boxed["hidden_dir"] == []
    assert boxed["outside_write"] == "FileNotFoundError"
    assert boxed["out_write"] == "written" and boxed["tmp_write"] == "written"
    assert not (world["outside"] / "planted").exists() and not (job / "planted").exists()
    assert (tmp / "scratch").exists()  # the private /tmp is the per-process dir the renderer deletes
    assert boxed["jobs"] == ["probe"] and boxed["data"] == ["jobs"]  # not the state, not the other job
    # Of the agent's home only what the Python install needs shows (here the interpreter may live in it).
    needed = {p.relative_to(home).parts[0] for p in python_install() if p.is_relative_to(home) and p != home}
    assert boxed["agent_home"] == "FileNotFoundError" or set(boxed["agent_home"]) <= needed, boxed["agent_home"]
    assert boxed["network"] in ("ConnectionRefusedError", "OSError")  # its own network namespace: no one listens
    assert boxed["processes"] <= 3 and boxed["home"] == "/tmp/home"


def _seen(result: subprocess.CompletedProcess) -> dict:
    line = next((x for x in result.stdout.splitlines() if x.startswith("SEEN ")), None)
    assert line, result.stdout + result.stderr
    return json.loads(line[5:])


def _green(png: Path) -> float:
    rgb = pixels(png)[..., :3].astype(int)
    return float(((rgb[..., 1] > 128) & (rgb[..., 0] < 64) & (rgb[..., 2] < 64)).mean())


def _white_pixels(png: Path) -> int:
    return int((pixels(png)[..., :3].min(axis=2) > 128).sum())


def test_a_gpu_sandbox_adds_sys_device_nodes_and_the_kernel_cache(tmp_path):
    # No GPU here: this runs the GPU variant of the sandbox and checks what it adds, not a GPU render.
    job, out, tmp, cache = (tmp_path / name for name in ("job", "out", "tmp", "cache"))
    for path in (job, out, tmp, cache):
        path.mkdir()
    script = ("import os; open(os.environ['CUDA_CACHE_PATH'] + '.probe', 'w').write('kernel');"
              "print('SEEN', os.path.isdir('/sys/devices'), os.environ['OPTIX_CACHE_PATH'])")
    box = Sandbox([job], out, tmp, gpu=True, kernel_cache=cache)
    result = subprocess.run(box.command([sys.executable, "-I", "-c", script]),
                            env=sandboxed_env(sandbox_module.KERNEL_CACHE_ENV), capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == ["SEEN", "True", "/tmp/home/.cache/nv-optix"], result.stderr
    assert (cache / "nv-compute.probe").read_text() == "kernel"
    check = "import os; print(os.path.isdir('/sys/devices'), os.path.isdir('/tmp/home/.cache'))"
    (tmp_path / "tmp2").mkdir()
    plain = subprocess.run(Sandbox([job], out, tmp_path / "tmp2").command([sys.executable, "-I", "-c", check]),
                           env=sandboxed_env(), capture_output=True, text=True, timeout=60)
    assert plain.stdout.split() == ["False", "False"], plain.stderr  # CPU sandboxes get neither
