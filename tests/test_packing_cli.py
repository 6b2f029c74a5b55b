"""`python -m addon pack`: the --json shape, re-packs, bad input, and packing from the artist's open session."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from addon.farm.package import Package

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [sys.executable, str(ROOT / "tests" / "packing_corpus.py")]


def pack(blend, out, *extra, cache=None):
    args = [sys.executable, "-m", "addon", "pack", str(blend), "--out", str(out), "--json",
            "--hash-cache", str(cache) if cache else "none", *extra]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return result.returncode, json.loads(result.stdout), result.stderr  # stdout is one JSON object, nothing else


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    subprocess.run([*CORPUS, "build", str(base / "corpus"), "image", "library", "udim"], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    subprocess.run([*CORPUS, "cycle", str(base / "cycle")], cwd=ROOT, check=True, capture_output=True, timeout=300)
    subprocess.run([*CORPUS, "odd", str(base / "odd")], cwd=ROOT, check=True, capture_output=True, timeout=300)
    return base


def copy_project(projects, name, tmp_path):
    shutil.copytree(projects / "corpus" / name, tmp_path / name)
    return tmp_path / name / "scene.blend"


def test_json_shape(projects, tmp_path):
    code, out, _ = pack(projects / "corpus" / "library" / "scene.blend", tmp_path / "pkg", "--frames", "3-4")
    assert code == 0
    assert set(out) == {"blend", "package", "files", "problems"}
    assert out["blend"] == str(projects / "corpus" / "library" / "scene.blend")
    assert out["package"] == str(tmp_path / "pkg")
    for f in out["files"]:
        assert set(f) == {"source", "packed", "sha256", "size", "kind"} and os.path.isabs(f["source"])
        assert len(f["sha256"]) == 64 and isinstance(f["size"], int)
    assert {f["kind"] for f in out["files"]} == {"library", "image"}
    assert not any(f["packed"] == Package.load(out["package"]).blend for f in out["files"])  # main not listed
    for p in out["problems"]:
        assert set(p) == {"kind", "severity", "path", "message"} and p["severity"] in ("error", "warning")
    assert {p["kind"] for p in out["problems"]} == {"absolute", "outside"}  # the texture from outside the project
    outside = next(f for f in out["files"] if f["kind"] == "image")
    assert outside["packed"].startswith("_external/")


def test_repack_of_an_unchanged_project_reuses_every_file(projects, tmp_path):
    blend, cache = projects / "corpus" / "image" / "scene.blend", tmp_path / "hashes.sqlite3"
    code, first, _ = pack(blend, tmp_path / "pkg", cache=cache)
    inode = os.stat(tmp_path / "pkg" / "tex" / "wood.png").st_ino
    code2, second, _ = pack(blend, tmp_path / "pkg", cache=cache)
    assert code == code2 == 0 and first["files"] == second["files"]
    assert os.stat(tmp_path / "pkg" / "tex" / "wood.png").st_ino == inode  # linked, not copied again
    assert [n for n in os.listdir(tmp_path) if n.startswith(".pkg.")] == []  # no staging left behind


def test_an_error_writes_nothing_and_exits_1(projects, tmp_path):
    blend = copy_project(projects, "image", tmp_path)
    (blend.parent / "tex" / "wood.png").unlink()
    code, out, _ = pack(blend, tmp_path / "pkg")
    assert code == 1 and out["package"] is None and out["files"] == []
    assert [(p["kind"], p["severity"]) for p in out["problems"]] == [("missing", "error")]
    assert "wood.png" in out["problems"][0]["message"] and not (tmp_path / "pkg").exists()


def test_a_fifo_dependency_is_refused_without_hanging(projects, tmp_path):
    blend = copy_project(projects, "image", tmp_path)
    (blend.parent / "tex" / "wood.png").unlink()
    os.mkfifo(blend.parent / "tex" / "wood.png")
    code, out, _ = pack(blend, tmp_path / "pkg")
    assert code == 1 and [p["kind"] for p in out["problems"]] == ["not_a_file"]


@pytest.mark.parametrize("content", [b"just some text\n", b""])
def test_not_a_blend(tmp_path, content):
    (tmp_path / "notes.blend").write_bytes(content)
    code, out, _ = pack(tmp_path / "notes.blend", tmp_path / "pkg")
    assert code == 2 and out["problems"][0]["kind"] == "bad_input" and "not a .blend" in out["problems"][0]["message"]
    assert not (tmp_path / "pkg").exists()


def test_truncated_blend(projects, tmp_path):
    data = (projects / "corpus" / "image" / "scene.blend").read_bytes()
    (tmp_path / "cut.blend").write_bytes(data[: len(data) // 2])
    code, out, _ = pack(tmp_path / "cut.blend", tmp_path / "pkg")
    assert code == 2 and "truncated or damaged" in out["problems"][0]["message"]
    assert not (tmp_path / "pkg").exists() and [n for n in os.listdir(tmp_path) if "partial" in n] == []


def test_out_folder_that_is_not_a_package_is_left_alone(projects, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "thesis.txt").write_text("keep me")
    code, out, _ = pack(projects / "corpus" / "image" / "scene.blend", tmp_path / "pkg")
    assert code == 2 and "not empty" in out["problems"][0]["message"]
    assert os.listdir(tmp_path / "pkg") == ["thesis.txt"]


def test_missing_scene_and_bad_frames(tmp_path):
    code, out, _ = pack(tmp_path / "nope.blend", tmp_path / "pkg")
    assert code == 2 and "does not exist" in out["problems"][0]["message"]
    code, out, _ = pack(tmp_path / "nope.blend", tmp_path / "pkg", "--frames", "9-2")
    assert code == 2 and "empty" in out["problems"][0]["message"]


def test_library_cycle(projects, tmp_path):
    code, out, _ = pack(projects / "cycle" / "a.blend", tmp_path / "pkg")
    assert code == 0 and [f["packed"] for f in out["files"]] == ["b.blend"]
    assert sorted(os.listdir(tmp_path / "pkg")) == [".farm-package.json", "a.blend", "b.blend"]


ODD = "wood & grain 'ü' #2 %d 🌲.png"


def test_odd_characters(projects, tmp_path):
    code, out, _ = pack(projects / "odd" / "scène #1.blend", tmp_path / "pkg")
    assert code == 0 and [f["packed"] for f in out["files"]] == [f"tex ü #/{ODD}"]
    check = ("import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1], load_ui=False, use_scripts=False); "
             "image = bpy.data.images[0]; print('PATH', bpy.path.abspath(image.filepath), tuple(image.size))")
    result = subprocess.run([sys.executable, "-c", check, str(tmp_path / "pkg" / "scène #1.blend")],
                            capture_output=True, text=True, timeout=300)
    line = next(x for x in result.stdout.splitlines() if x.startswith("PATH "))
    assert line == f"PATH {tmp_path / 'pkg' / 'tex ü #' / ODD} (16, 16)"  # read from the package


def test_help():
    for args in ([], ["pack"]):
        result = subprocess.run([sys.executable, "-m", "addon", *args, "--help"], cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0 and "usage:" in result.stdout


IN_SESSION = r"""
import json, os, sys, bpy
sys.path.insert(0, sys.argv[1])
from addon.blender.pack import pack_loaded
bpy.ops.wm.open_mainfile(filepath=sys.argv[2], load_ui=False, use_scripts=False)
before = sorted((i.name, i.filepath) for i in bpy.data.images) + sorted(l.filepath for l in bpy.data.libraries)
dirty = bpy.data.is_dirty  # linking marks a freshly opened file dirty already
result = pack_loaded(sys.argv[3], frames=(3, 4), in_session=True)
after = sorted((i.name, i.filepath) for i in bpy.data.images) + sorted(l.filepath for l in bpy.data.libraries)
print("RESULT " + json.dumps({"same": before == after, "dirty": bpy.data.is_dirty != dirty, "file": bpy.data.filepath,
                              "json": result.to_json()}))
"""


def test_packing_the_open_session_leaves_it_untouched(projects, tmp_path):
    blend = projects / "corpus" / "library" / "scene.blend"
    result = subprocess.run([sys.executable, "-c", IN_SESSION, str(ROOT), str(blend), str(tmp_path / "pkg")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))[7:])
    assert report["same"] and not report["dirty"] and report["file"] == str(blend)
    _, headless, _ = pack(blend, tmp_path / "pkg2", "--frames", "3-4")
    assert sorted((f["packed"], f["kind"]) for f in report["json"]["files"]) == sorted(
        (f["packed"], f["kind"]) for f in headless["files"])


REPACK_IN_SESSION = r"""
import json, os, sys, bpy
sys.path.insert(0, sys.argv[1])
from addon.blender import pack as packing
from addon.farm.hash_cache import HashCache
bpy.ops.wm.open_mainfile(filepath=sys.argv[2], load_ui=False, use_scripts=False)
cache = HashCache(sys.argv[4])
children = []
real_child = packing._rewrite_in_child
packing._rewrite_in_child = lambda spec: children.append(len(spec["jobs"])) or real_child(spec)
first = packing.pack_loaded(sys.argv[3], frames=(3, 4), in_session=True, cache=cache)
second = packing.pack_loaded(sys.argv[3], frames=(3, 4), in_session=True, cache=cache)
print("RESULT " + json.dumps({"children": children, "same": first.to_json() == second.to_json()}))
"""


def test_repack_from_the_session_reuses_the_blend_copies(projects, tmp_path):
    blend = projects / "corpus" / "library" / "scene.blend"
    result = subprocess.run([sys.executable, "-c", REPACK_IN_SESSION, str(ROOT), str(blend), str(tmp_path / "pkg"),
                             str(tmp_path / "hashes.sqlite3")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))[7:])
    # The first pack writes the main copy and two library copies in a child Blender; the re-pack needs none.
    assert report == {"children": [3], "same": True}


def test_cli_main_takes_argv(capsys):
    # Blender's registered CLI command calls addon.cli.main with its argv; --help needs no bpy.
    from addon.cli import COMMANDS, main

    assert "pack" in COMMANDS
    with pytest.raises(SystemExit) as done:
        main(["pack", "--help"])
    assert done.value.code == 0 and "--frames A-B" in capsys.readouterr().out


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to run pack as another user")
def test_an_unreadable_dependency(projects):
    # Root reads everything, so the pack runs as "nobody" on a copy whose texture nobody may read.
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="pack-unreadable-", dir="/tmp"))
    try:
        shutil.copytree(projects / "corpus" / "image", base / "proj")
        (base / "home").mkdir()
        for p in [base, *base.rglob("*")]:
            p.chmod(0o777 if p.is_dir() else 0o644)
        (base / "proj" / "tex" / "wood.png").chmod(0)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
        env = {**os.environ, "HOME": str(base / "home")}
        probe = subprocess.run([*nobody, "-c", "import addon.cli, bpy"], cwd=ROOT, capture_output=True, env=env,
                               timeout=120)
        if probe.returncode != 0:
            pytest.skip("the checkout or its venv is not readable by other users here")
        args = [*nobody, "-m", "addon", "pack", str(base / "proj" / "scene.blend"), "--out", str(base / "pkg"),
                "--json", "--hash-cache", "none"]
        result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
        out = json.loads(result.stdout)
        assert result.returncode == 1 and [p["kind"] for p in out["problems"]] == ["unreadable"]
        assert "permissions" in out["problems"][0]["message"] and not (base / "pkg").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------ re-pack without Blender (farm/repack.py)

NO_BPY = ("import sys; from addon.cli import main; code = main(sys.argv[1:]); "
          "sys.stderr.write('BPY IMPORTED %s\\n' % ('bpy' in sys.modules)); sys.exit(code)")
REUSED = "unchanged since the last pack"


def repack(blend, out, cache, *extra):
    """`python -m addon pack` through addon.cli.main, telling on stderr whether bpy was imported."""
    args = [sys.executable, "-c", NO_BPY, "pack", str(blend), "--out", str(out), "--json", "--hash-cache", str(cache),
            *extra]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return result.returncode, json.loads(result.stdout), result.stderr


def without_root(out):
    return {"files": sorted(out["files"], key=lambda f: f["packed"]), "problems": out["problems"]}


def test_an_unchanged_repack_needs_no_blender(projects, tmp_path):
    blend, cache = copy_project(projects, "image", tmp_path), tmp_path / "hashes.sqlite3"
    code, first, _ = repack(blend, tmp_path / "pkg", cache)
    code2, second, err = repack(blend, tmp_path / "pkg", cache)
    assert code == code2 == 0 and first == second
    assert REUSED in err and "BPY IMPORTED False" in err
    # A touched file with the same bytes is hashed once and the re-pack still needs no Blender.
    wood = blend.parent / "tex" / "wood.png"
    os.utime(wood, ns=(wood.stat().st_atime_ns, wood.stat().st_mtime_ns + 5_000_000_000))
    _, third, err = repack(blend, tmp_path / "pkg", cache)
    assert third == first and REUSED in err and "BPY IMPORTED False" in err
    # --full traces again and writes the same package.
    _, fourth, err = repack(blend, tmp_path / "pkg", cache, "--full")
    assert fourth == first and REUSED not in err and "BPY IMPORTED True" in err


RESAVE = ("import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1], load_ui=False, use_scripts=False); "
          "bpy.data.images['wood.png'].filepath = '//tex/unused.png'; bpy.ops.wm.save_mainfile()")


def _change(name, project):
    """Change one thing the pack read; returns what the right result must show."""
    if name == "texture":
        shutil.copyfile(project / "tex" / "unused.png", project / "tex" / "wood.png")
    elif name == "blend":
        subprocess.run([sys.executable, "-c", RESAVE, str(project / "scene.blend")], check=True, capture_output=True,
                       timeout=300)
    elif name == "udim_tile":
        shutil.copyfile(project / "udim" / "skin.1001.png", project / "udim" / "skin.1004.png")
    elif name == "deleted":
        (project / "tex" / "wood.png").unlink()
    elif name == "frames":
        return ["--frames", "4-4"]
    return []


@pytest.mark.parametrize("name", ["texture", "blend", "udim_tile", "deleted", "package_edited", "frames"])
def test_a_change_takes_the_full_path_and_gets_it_right(projects, tmp_path, name):
    blend = copy_project(projects, "udim" if name == "udim_tile" else "image", tmp_path)
    cache, pkg = tmp_path / "hashes.sqlite3", tmp_path / "pkg"
    code, first, _ = repack(blend, pkg, cache)
    assert code == 0
    extra = _change(name, blend.parent)
    if name == "package_edited":
        (pkg / first["files"][0]["packed"]).write_bytes(b"edited in the package")
    code, again, err = repack(blend, pkg, cache, *extra)
    assert REUSED not in err and "BPY IMPORTED True" in err
    _, fresh, _ = pack(blend, tmp_path / "fresh", *extra)  # a first pack elsewhere, no cache: the right answer
    assert without_root(again) == without_root(fresh)
    if name == "deleted":
        assert code == 1 and [p["kind"] for p in again["problems"]] == ["missing"]
    else:
        assert code == 0
        for f in again["files"]:
            assert hashlib.sha256((pkg / f["packed"]).read_bytes()).hexdigest() == f["sha256"]
    if name == "texture":
        assert again["files"][0]["sha256"] != first["files"][0]["sha256"]
    if name == "blend":
        assert [f["packed"] for f in again["files"]] == ["tex/unused.png"]


def test_an_unchanged_repack_reports_like_a_pack(projects, tmp_path):
    blend, cache = copy_project(projects, "library", tmp_path), tmp_path / "hashes.sqlite3"
    args = [sys.executable, "-m", "addon", "pack", str(blend), "--out", str(tmp_path / "pkg"), "--hash-cache",
            str(cache)]
    first, second = (subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300) for _ in range(2))
    assert first.returncode == second.returncode == 0 and REUSED in second.stderr
    assert first.stdout == second.stdout and "packed 4 files" in second.stdout and "outside" in second.stdout
