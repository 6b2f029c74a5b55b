"""Pack a project of about 1 GiB of textures and a few hundred files, against `cp -r` + `openssl dgst -sha256`.

Prints, measured in the same run on the same warm page cache:
  baseline   cp -r of the project + openssl dgst -sha256 of every file the package holds
  pack       trace + copy + hash + .blend copies (in this process: bpy already imported), goal <= 1.5x baseline
  re-pack    the same project unchanged, goal <= 0.1x pack: reused without opening it (farm/repack.py), and
             traced again (reuse=False: the hash cache and hard links to the previous package)
and the same through the CLI (`python -m addon pack`): a first pack (with Blender's start-up), an unchanged
re-pack (no Blender: farm/repack.py), goal <= 0.1x the CLI pack, and a re-pack with --full (traces again).

  python -m bench packing [--size-mib 1024] [--files 256] [--work DIR] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_project(d: Path, files: int, size: int) -> Path:
    """`files` textures of `size` bytes each (incompressible) and a 60-frame sequence of which frames 1-20 read
    20, all used by one material; the .blend is written by bpy."""
    import bpy

    (d / "tex").mkdir(parents=True, exist_ok=True)
    (d / "seq").mkdir(exist_ok=True)
    for i in range(files):
        path = d / "tex" / f"tex_{i:03d}.png"
        if not path.exists() or path.stat().st_size != size:
            with open(path, "wb") as f:
                for _ in range(0, size, 1 << 22):
                    f.write(os.urandom(min(1 << 22, size)))
                f.truncate(size)
    for frame in range(1, 61):
        (d / "seq" / f"f_{frame:04d}.png").write_bytes(os.urandom(64 << 10))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 20
    scene.render.filepath = "//frames/frame_####"
    mat = bpy.data.materials.new("Many")
    mat.use_fake_user = False
    mat.use_nodes = True
    for i in range(files):
        image = bpy.data.images.new(f"tex_{i:03d}", 4, 4)
        image.source = "FILE"
        image.filepath = f"//tex/tex_{i:03d}.png"
        mat.node_tree.nodes.new("ShaderNodeTexImage").image = image
    seq = bpy.data.images.new("seq", 4, 4)
    seq.source = "SEQUENCE"
    seq.filepath = "//seq/f_0001.png"
    node = mat.node_tree.nodes.new("ShaderNodeTexImage")
    node.image = seq
    node.image_user.frame_duration = 60
    bpy.ops.mesh.primitive_plane_add()
    bpy.context.active_object.data.materials.append(mat)
    blend = d / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), relative_remap=False)
    return blend


def drop_writeback() -> None:
    os.sync()  # not timed: the previous step's dirty pages must not slow down the next one


def warm(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def baseline(project: Path, files: list[str], dst: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of cp -r + openssl dgst -sha256."""
    shutil.rmtree(dst, ignore_errors=True)
    start, cpu = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(["cp", "-r", str(project), str(dst)], check=True)
    subprocess.run(["openssl", "dgst", "-sha256", *files], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu(resource.RUSAGE_CHILDREN) - cpu


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench packing", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="total size of the textures (MiB)")
    parser.add_argument("--files", type=int, default=256, help="number of textures")
    parser.add_argument("--work", help="folder for the project and the packages (default: a temp dir, removed)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the best of each is reported")
    args = parser.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-packing-"))
    try:
        return _run(work, args)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, args) -> int:
    sys.path.insert(0, str(ROOT))
    from addon.blender.pack import pack_file
    from addon.farm.hash_cache import HashCache

    project = work / "project"
    size = (args.size_mib << 20) // args.files
    blend = build_project(project, args.files, size)
    pkg, cp_dst = work / "package", work / "cp-copy"
    times: dict[str, list[float]] = {"baseline": [], "pack": [], "repack": [], "cli_pack": [], "cli_repack": [],
                                     "cli_repack_full": [], "repack_traced": []}
    cpu_seconds: dict[str, list[float]] = {"baseline": [], "pack": []}
    phases: list[dict[str, float]] = []
    listed: list[str] = []
    for _round in range(args.rounds):
        shutil.rmtree(pkg, ignore_errors=True)
        cache_path = work / f"hashes-{_round}.sqlite3"
        drop_writeback()
        result = pack_file(str(blend), str(pkg), cache=HashCache(None))  # a first pack with its own cold cache
        listed = [f.source for f in result.package.dependencies] + [str(blend)]
        shutil.rmtree(pkg)
        warm(listed)
        drop_writeback()
        wall, cpu = baseline(project, listed, cp_dst)
        times["baseline"].append(wall)
        cpu_seconds["baseline"].append(cpu)
        shutil.rmtree(cp_dst)
        drop_writeback()
        cache = HashCache(cache_path)
        start, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
        result = pack_file(str(blend), str(pkg), cache=cache)
        times["pack"].append(time.perf_counter() - start)
        cpu_seconds["pack"].append(_cpu(resource.RUSAGE_SELF) - cpu)
        phases.append(result.timings)
        drop_writeback()
        start = time.perf_counter()
        traced = pack_file(str(blend), str(pkg), cache=cache, reuse=False)
        times["repack_traced"].append(time.perf_counter() - start)
        drop_writeback()
        start = time.perf_counter()
        again = pack_file(str(blend), str(pkg), cache=cache)
        times["repack"].append(time.perf_counter() - start)
        assert [f.sha256 for f in again.package.dependencies] == [f.sha256 for f in result.package.dependencies]
        assert again.to_json() == traced.to_json() == result.to_json()
        cache.close()
        # The same through the CLI, Blender's start-up included.
        shutil.rmtree(pkg)
        drop_writeback()
        cli = [sys.executable, "-m", "addon", "pack", str(blend), "--out", str(pkg), "--json",
               "--hash-cache", str(work / f"cli-hashes-{_round}.sqlite3")]
        outputs = {}
        for key, extra in (("cli_pack", []), ("cli_repack", []), ("cli_repack_full", ["--full"])):
            drop_writeback()
            start = time.perf_counter()
            outputs[key] = subprocess.run(cli + extra, cwd=ROOT, check=True, capture_output=True, text=True)
            times[key].append(time.perf_counter() - start)
        assert "unchanged since the last pack" in outputs["cli_repack"].stderr  # the no-Blender path was taken
        assert outputs["cli_repack"].stdout == outputs["cli_pack"].stdout == outputs["cli_repack_full"].stdout
    best = {k: min(v) for k, v in times.items()}
    total = sum(os.path.getsize(p) for p in listed)
    print(f"project: {len(listed)} files packed ({total / (1 << 30):.2f} GiB) of {len(list(project.rglob('*')))} on "
          f"disk; best of {args.rounds} rounds")
    print(f"baseline cp -r + openssl dgst -sha256: {best['baseline']:.2f} s")
    print(f"pack (in process):   {best['pack']:.2f} s = {best['pack'] / best['baseline']:.2f}x baseline (goal <= 1.5)")
    fastest = phases[times["pack"].index(best["pack"])]
    print("  pack phases: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f} s" for k, v in fastest.items()))
    base_cpu, pack_cpu = min(cpu_seconds["baseline"]), min(cpu_seconds["pack"])
    print(f"  CPU seconds (user+sys): baseline {base_cpu:.2f}, pack {pack_cpu:.2f} = {pack_cpu / base_cpu:.2f}x "
          f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall times include waiting)")
    print(f"re-pack (unchanged): {best['repack']:.3f} s = {best['repack'] / best['pack']:.3f}x pack (goal <= 0.1; "
          "nothing changed, so the package is reused without opening the .blend)")
    print(f"  traced re-pack (reuse=False: open, trace, hard-link via the hash cache): "
          f"{best['repack_traced']:.3f} s = "
          f"{best['repack_traced'] / best['pack']:.3f}x pack")
    print(f"CLI pack:            {best['cli_pack']:.2f} s = {best['cli_pack'] / best['baseline']:.2f}x baseline "
          "(includes Blender's start-up)")
    print(f"CLI re-pack (unchanged, no Blender): {best['cli_repack']:.3f} s = "
          f"{best['cli_repack'] / best['cli_pack']:.3f}x CLI pack (goal <= 0.1)")
    print(f"CLI re-pack --full (traces again):   {best['cli_repack_full']:.2f} s = "
          f"{best['cli_repack_full'] / best['cli_pack']:.2f}x CLI pack")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
