"""Packing the corpus: exactly the files each scene needs, the package renders the same pixels from a new
place with the originals moved away, and no source file changes (tests/packing_corpus.py builds it).

Pixel threshold: every channel of every pixel within 2/255 of the original render (the renders are
deterministic CPU Cycles at 32x32 px, 4 samples, fixed seed, so a package that works matches exactly; a
missing texture shows as pink or black, far beyond the threshold).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from addon.farm.package import MANIFEST_NAME, Package, package_path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [sys.executable, str(ROOT / "tests" / "packing_corpus.py")]
THRESHOLD = 2 / 255
# project -> (a dependency whose absence must show in the render, a packed file put in its place or None). The strip's
# frame is replaced rather than deleted: Blender 4.5 crashes rendering a strip whose image is missing.
CONTROLS = {"image": ("tex/wood.png", None), "bake": ("bakes", None), "volume": ("volumes/cloud.vdb", None),
            "usd": ("cache/cube.usdc", None), "mesh_cache": ("cache/warp.pc2", None),
            "volume_sequence": ("volumes/smoke/smoke_0005.vdb", None),
            "strip": ("plates/p_0003.png", "image/tex/wood.png")}


def run(args, **kw):
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, **kw)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def tree_hashes(*roots):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for root in roots for p in Path(root).rglob("*")
            if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("packing")
    src, packs, renders = base / "corpus", base / "packs", base / "renders"
    packs.mkdir()
    renders.mkdir()
    run([*CORPUS, "build", str(src)])
    before = tree_hashes(src)
    run([*CORPUS, "pack", str(src), str(packs)])
    after = tree_hashes(src)
    names = sorted(p.parent.name for p in src.glob("*/expected.json"))
    expected = {n: json.loads((src / n / "expected.json").read_text()) for n in names}
    results = {n: json.loads((packs / f"{n}.result.json").read_text()) for n in names}
    # Originals first; then the packages copied to a new place, with the originals moved away.
    spec = {"renders": [[str(src / n / "scene.blend"), expected[n]["render_frame"], str(renders / f"{n}.orig.png")]
                        for n in names], "report": str(renders / "orig.json")}
    (renders / "orig_spec.json").write_text(json.dumps(spec))
    run([*CORPUS, "render", str(renders / "orig_spec.json")])
    moved, away = base / "elsewhere", base / "corpus-moved-away"
    for n in names:
        shutil.copytree(packs / n, moved / n, symlinks=False)
    # Controls: the same package without its texture, or without its simulation bake, renders differently.
    for name, (dependency, other) in CONTROLS.items():
        if name in names:
            shutil.copytree(packs / name, moved / f"{name}-broken")
            gone = moved / f"{name}-broken" / dependency
            shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
            if other:
                shutil.copyfile(packs / other, gone)
    controls = [n for n in CONTROLS if n in names]
    src.rename(away)
    try:
        spec = {"renders": [[str(moved / n / Package.load(str(moved / n)).blend), expected["image"]["render_frame"],
                             str(renders / f"{n}.pack.png")] for n in [*names, *(f"{c}-broken" for c in controls)]],
                "compare": [[str(renders / f"{n}.orig.png"), str(renders / f"{m}.pack.png")]
                            for n, m in [*((n, n) for n in names), *((c, f"{c}-broken") for c in controls)]],
                "report": str(renders / "pack.json")}
        (renders / "pack_spec.json").write_text(json.dumps(spec))
        run([*CORPUS, "render", str(renders / "pack_spec.json")])
    finally:
        away.rename(src)
    return {"src": src, "packs": packs, "moved": moved, "renders": renders, "names": names, "expected": expected,
            "results": results, "before": before, "after": after,
            "orig": json.loads((renders / "orig.json").read_text()),
            "pack": json.loads((renders / "pack.json").read_text())}


PROJECTS = ["image", "udim", "sequence", "library", "font", "sound", "alembic", "usd", "point_cache", "ies", "script",
            "import_node", "packed", "bake", "movie", "strip", "volume", "volume_sequence", "mesh_cache", "all"]


def _project(corpus, name):
    if name not in corpus["names"]:
        pytest.skip(f"this Blender cannot build the {name} project")
    return corpus["expected"][name], corpus["results"][name]


@pytest.mark.parametrize("name", PROJECTS)
def test_lists_exactly_the_files_the_frames_read(corpus, name):
    expected, result = _project(corpus, name)
    assert sorted(f["source"] for f in result["files"]) == expected["files"]
    assert result["package"] and not [p for p in result["problems"] if p["severity"] == "error"]
    project = str(corpus["src"] / name)
    for f in result["files"]:
        assert f["packed"] == package_path(f["source"], project)
        assert f["kind"] in ("image", "library", "font", "sound", "volume", "cache", "bake", "ies", "script", "other")
    # The package holds those files, the main copy and the manifest: nothing else.
    package = Path(result["package"])
    on_disk = {str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()}
    main = Package.load(str(package)).blend
    assert on_disk == {f["packed"] for f in result["files"]} | {main, MANIFEST_NAME}
    for f in result["files"]:
        data = (package / f["packed"]).read_bytes()
        assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"]


@pytest.mark.parametrize("name", PROJECTS)
def test_package_renders_the_same_from_a_new_place(corpus, name):
    _project(corpus, name)
    orig, pack = corpus["renders"] / f"{name}.orig.png", corpus["renders"] / f"{name}.pack.png"
    diff = corpus["pack"][f"{orig} vs {pack}"]
    assert diff["max"] <= THRESHOLD, f"pixels differ by up to {diff['max'] * 255:.1f}/255"
    o, p = corpus["orig"][str(orig)], corpus["pack"][str(pack)]
    assert o["objects"] == p["objects"] and o["particles"] == p["particles"]
    assert all(not missing for _name, missing in p["libraries"]), p["libraries"]


def test_the_comparison_can_fail(corpus):
    # The textured scenes are not black, and a package missing one texture is caught by the threshold.
    renders = corpus["renders"]
    for name in ("image", "udim", "sequence", "library", "volume", "volume_sequence", "all"):
        assert corpus["pack"][f"{renders / f'{name}.orig.png'} vs {renders / f'{name}.pack.png'}"]["mean_value"] > 0.2
    for name in CONTROLS:
        if name in corpus["names"]:
            broken = corpus["pack"][f"{renders / f'{name}.orig.png'} vs {renders / f'{name}-broken.pack.png'}"]
            assert broken["max"] > 0.2, name


def test_sources_are_byte_identical(corpus):
    assert corpus["before"] == corpus["after"]
    assert len(corpus["before"]) > 50


def test_the_all_project_is_compressed_and_its_copy_too(corpus):
    expected, result = _project(corpus, "all")
    assert expected["compressed"]
    assert (corpus["src"] / "all" / "scene.blend").read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # zstd
    main = Path(result["package"]) / Package.load(result["package"]).blend
    assert main.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"


def test_vdb_sequence_frames_are_the_files_blender_loads(corpus, tmp_path):
    # Every sequence mode, frames before, inside and after the sequence: farm/package.py's volume_frame names the
    # file Blender's own volume loads (VolumeGrids.frame_filepath of the evaluated volume), or none where it loads
    # none.
    _project(corpus, "volume_sequence")
    run([*CORPUS, "volume-frames", str(corpus["src"] / "volume_sequence" / "scene.blend"), str(tmp_path / "f.json")])
    report = json.loads((tmp_path / "f.json").read_text())
    assert len(report) == 4 * 13 and any(r["blender"] is None for r in report)
    for row in report:
        assert row["ours"] == (os.path.normpath(row["blender"]) if row["blender"] else None), row
