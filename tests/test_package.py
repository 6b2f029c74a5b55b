"""The bpy-free half of packing: path resolution, sequences, UDIM tiles, relocation, the manifest, the writer."""

import os

import pytest

from addon.farm.hash_cache import HashCache
from addon.farm.package import (
    MANIFEST_NAME,
    Package,
    PackageError,
    PackageFile,
    Reference,
    expand,
    file_package_path,
    image_user_frame,
    package_path,
    parse_frames,
    relative_reference,
    resolve,
    sequence_file,
    sequence_members,
    udim_file,
    volume_frame,
)
from addon.farm.package_writer import PackageWriter, PlannedFile


def test_resolve_blender_paths():
    assert resolve("//tex/a.png", "/p/scene") == "/p/scene/tex/a.png"
    assert resolve("//../shared/a.png", "/p/scene") == "/p/shared/a.png"
    assert resolve("//tex\\win\\a.png", "/p") == "/p/tex/win/a.png"  # saved on Windows
    assert resolve("/abs/./x/../a.png", "/p") == "/abs/a.png"


def test_sequence_file_replaces_the_last_number_keeping_its_width():
    assert sequence_file("/s/shot2_f_0001.png", 17) == "/s/shot2_f_0017.png"
    assert sequence_file("/s/f.001.exr", 1234) == "/s/f.1234.exr"
    assert sequence_file("/s/still.png", 5) == "/s/still.png"


def test_sequence_members_are_only_the_same_sequence(tmp_path):
    for name in ("f_0001.png", "f_0002.png", "f_0010.png", "f_01.png", "g_0001.png", "f_0001.jpg"):
        (tmp_path / name).write_bytes(b"x")
    assert [os.path.basename(p) for p in sequence_members(str(tmp_path / "f_0001.png"))] == [
        "f_0001.png", "f_0002.png", "f_0010.png"]


def test_image_user_frames_follow_blender():
    # start 1, offset 2: scene frame 3 reads image frame 5
    assert image_user_frame(3, start=1, duration=10, offset=2, cyclic=False) == 5
    assert image_user_frame(50, start=1, duration=10, offset=0, cyclic=False) == 10  # held on the last frame
    assert image_user_frame(12, start=1, duration=10, offset=0, cyclic=True) == 2
    assert image_user_frame(10, start=1, duration=10, offset=0, cyclic=True) == 10
    assert image_user_frame(-3, start=1, duration=10, offset=0, cyclic=False) == 0


def test_volume_sequence_modes():
    kw = {"start": 1, "duration": 4, "offset": 0}
    assert volume_frame(6, mode="CLIP", **kw) is None
    assert volume_frame(6, mode="EXTEND", **kw) == 4
    assert volume_frame(6, mode="REPEAT", **kw) == 2
    assert [volume_frame(f, mode="PING_PONG", **kw) for f in range(1, 9)] == [1, 2, 3, 4, 3, 2, 1, 2]


def test_udim_and_uvtile_names():
    assert udim_file("/t/skin.<UDIM>.png", 1012) == "/t/skin.1012.png"
    assert udim_file("/t/skin.<UVTILE>.png", 1012) == "/t/skin.u2_v2.png"


def test_relocation_is_stable_and_never_collides():
    assert package_path("/p/tex/a.png", "/p") == "tex/a.png"
    one, two = package_path("/lib/one/a.png", "/p"), package_path("/lib/two/a.png", "/p")
    assert one.startswith("_external/") and one.endswith("/a.png") and one != two
    assert package_path("/lib/one/a.png", "/p") == one
    assert package_path("/p2/a.png", "/p").startswith("_external/")  # a sibling with a common prefix is outside
    assert relative_reference("tex/a.png", "scene.blend") == "//tex/a.png"
    assert relative_reference("tex/a.png", "libs/deep/mat.blend") == "//../../tex/a.png"


def test_sequence_files_stay_beside_their_pattern_when_relocated(tmp_path):
    ref = Reference(kind="image", owner="Image 's'", raw="/lib/seq/f_0001.png", path="/lib/seq/f_0001.png",
                    pattern="sequence", frames=(4,))
    assert file_package_path(ref, "/lib/seq/f_0004.png", "/p").rpartition("/")[0] == \
        package_path(ref.path, "/p").rpartition("/")[0]


def test_parse_frames():
    assert parse_frames("1-24") == (1, 24)
    assert parse_frames("7") == (7, 7)
    for bad in ("24-1", "a-b", "1-", ""):
        with pytest.raises(PackageError):
            parse_frames(bad)


def test_expand_point_cache_prefix_keeps_frames_and_neighbours(tmp_path):
    for f in (1, 2, 4, 6, 8):
        (tmp_path / f"CACHE_{f:06d}_00.bc").write_bytes(b"x")
    (tmp_path / "OTHER_000004_00.bc").write_bytes(b"x")
    ref = Reference(kind="cache", owner="o", raw="", path=str(tmp_path), pattern="prefix", prefix="CACHE",
                    frames=(3, 5))
    found, missing = expand(ref)
    assert [os.path.basename(p) for p in found] == ["CACHE_000002_00.bc", "CACHE_000004_00.bc", "CACHE_000006_00.bc"]
    assert missing == []


def test_expand_reports_missing_frames_and_tiles(tmp_path):
    (tmp_path / "f_0001.png").write_bytes(b"x")
    seq = Reference(kind="image", owner="o", raw="", path=str(tmp_path / "f_0001.png"), pattern="sequence",
                    frames=(1, 2))
    assert expand(seq) == ([str(tmp_path / "f_0001.png")], [str(tmp_path / "f_0002.png")])
    packed = Reference(kind="image", owner="o", raw="//gone.png", path=str(tmp_path / "gone.png"), packed=True)
    assert expand(packed) == ([], [])


def test_manifest_round_trip_lists_the_main_blend(tmp_path):
    package = Package(root=str(tmp_path), blend="scene.blend", blender_version="5.0.1", files=[
        PackageFile("scene.blend", "ab" * 32, 10, "blend", "/p/scene.blend"),
        PackageFile("tex/a.png", "cd" * 32, 3, "image", "/p/tex/a.png")])
    package.save_manifest()
    again = Package.load(str(tmp_path))
    assert again == package
    assert again.main.is_main and [f.path for f in again.dependencies] == ["tex/a.png"]
    assert again.file_map() == {"scene.blend": tmp_path / "scene.blend", "tex/a.png": tmp_path / "tex" / "a.png"}


def _sources(tmp_path, count=3):
    src = tmp_path / "src"
    src.mkdir()
    planned = []
    for i in range(count):
        (src / f"f{i}.bin").write_bytes(os.urandom(1000 + i))
        planned.append(PlannedFile(str(src / f"f{i}.bin"), f"data/f{i}.bin", "other"))
    return planned


def test_writer_is_all_or_nothing(tmp_path):
    planned = _sources(tmp_path)
    out = tmp_path / "pkg"
    with PackageWriter(out) as w:
        files = w.copy(planned)
        (tmp_path / "scene.blend").write_bytes(b"BLENDER")
        os.link(tmp_path / "scene.blend", w.staged("scene.blend"))
        first = w.commit("scene.blend", [w.add_written("scene.blend", "blend", "/p/scene.blend"), *files])
    before = sorted(os.listdir(out))
    with pytest.raises(RuntimeError), PackageWriter(out) as w:
        w.copy(planned)
        raise RuntimeError("Blender failed half-way")
    assert sorted(os.listdir(out)) == before and Package.load(str(out)) == first  # the old package is intact
    assert [n for n in os.listdir(tmp_path) if ".partial-" in n] == []  # no half-written package left


def test_writer_refuses_a_folder_that_is_not_a_package(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("keep me")
    with pytest.raises(PackageError, match="not empty"):
        PackageWriter(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "keep me"
    with pytest.raises(PackageError, match="not a regular file"), PackageWriter(tmp_path / "out") as w:
        w.copy([PlannedFile(str(tmp_path / "mine"), "x", "other")])


def test_repack_links_unchanged_files_without_reading_them(tmp_path):
    planned = _sources(tmp_path)
    cache = HashCache(tmp_path / "hashes.sqlite3")
    out = tmp_path / "pkg"
    for round_ in range(2):
        with PackageWriter(out, cache) as w:
            files = w.copy(planned)
            w.commit(files[0].path, files)
        if round_ == 0:
            inodes = {f.path: os.stat(out / f.path).st_ino for f in files}
            read_after_first = cache.hashed_bytes
    assert w.reused == len(planned)
    assert cache.hashed_bytes == read_after_first, "unchanged files were read again"
    assert {f.path: os.stat(out / f.path).st_ino for f in files} == inodes
    # A changed source is copied again.
    with open(planned[1].source, "ab") as f:
        f.write(b"changed")
    with PackageWriter(out, cache) as w:
        files = w.copy(planned)
        w.commit(files[0].path, files)
    assert w.reused == len(planned) - 1
    assert (out / "data/f1.bin").read_bytes() == open(planned[1].source, "rb").read()
    assert os.path.exists(out / MANIFEST_NAME)
