"""The packing test corpus, built by code with the bpy wheel: one tiny project per dependency kind.

Run by the tests as a separate process (bpy owns global state):
  python tests/packing_corpus.py build DIR [NAME…] projects in DIR/<name>/ (+ DIR/<name>/expected.json)
  python tests/packing_corpus.py cycle DIR        two .blend files linking each other (a library cycle)
  python tests/packing_corpus.py odd DIR          a project whose paths hold odd characters
  python tests/packing_corpus.py pack DIR OUT     pack every project into OUT/<name>/ (result.json there)
  python tests/packing_corpus.py render SPEC.json render [blend, frame, png] triples at 32x32 px
  python tests/packing_corpus.py volume-frames BLEND OUT.json   which file a VDB sequence loads, Blender vs ours

Every project renders frames 1-4 with Cycles (4 samples, 32x32 px, CPU, no denoising), an orthographic
camera looking down at emissive quads, so a missing texture shows as a wrong pixel. `expected.json`
lists the absolute source of every file the frames FRAMES read, and nothing else: stray files sit
beside them on purpose (unused sequence frames, an unused UDIM tile, unused images).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import sys
import tempfile
import wave

import bpy

FRAMES = (3, 4)
RENDER_FRAME = 3
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


# ------------------------------------------------------------------------------------------- helpers


def new_scene() -> bpy.types.Scene:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 4
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    scene.cycles.seed = 0
    scene.render.resolution_x = scene.render.resolution_y = 32
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = "//frames/frame_####"
    cam_data = bpy.data.cameras.new("Camera")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = 8
    cam = bpy.data.objects.new("Camera", cam_data)
    cam.location = (0, 0, 10)
    scene.collection.objects.link(cam)
    scene.camera = cam
    return scene


def write_png(path: str, color, size: int = 16, gradient: bool = True) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = bpy.data.images.new("tmp_write", size, size, alpha=True)
    pixels = []
    for y in range(size):
        for x in range(size):
            k = (0.5 + 0.5 * x / size) if gradient else 1.0
            pixels += [color[0] * k, color[1] * k, color[2] * (0.5 + 0.5 * y / size), 1.0]
    image.pixels = pixels
    image.filepath_raw = path
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)


def emission_material(name: str, image=None, color=(1, 1, 1, 1)):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    emit = nodes.new("ShaderNodeEmission")
    emit.inputs["Color"].default_value = color
    links.new(emit.outputs[0], out.inputs["Surface"])
    if image is not None:
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = image
        tex.interpolation = "Closest"
        links.new(tex.outputs["Color"], emit.inputs["Color"])
        return mat, tex
    return mat, None


def quad(name: str, mat, location, size: float = 1.8, uv_shift: float = 0.0):
    bpy.ops.mesh.primitive_plane_add(size=size, location=location)
    ob = bpy.context.active_object
    ob.name = name
    if uv_shift:
        for loop in ob.data.uv_layers.active.data:
            loop.uv.x += uv_shift
    if mat is not None:
        ob.data.materials.append(mat)
    return ob


def save(path: str, compress: bool = False) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=path, compress=compress, relative_remap=False)  # keep absolute paths absolute


# --------------------------------------------------------------------------- one builder per kind
# Each adds its data-blocks to the current scene at `at` and returns the absolute sources it needs.
# Files are written before the scene is saved; the scene is saved by the caller.


def add_image(d, at):
    write_png(f"{d}/tex/wood.png", (0.9, 0.5, 0.2))
    write_png(f"{d}/tex/unused.png", (0, 1, 0))  # stray file in the same folder
    write_png(f"{d}/tex/fake_user.png", (0, 0, 1))
    image = bpy.data.images.load(f"{d}/tex/wood.png")
    image.filepath = "//tex/wood.png"
    mat, _ = emission_material("Wood", image)
    quad("Wood", mat, at)
    unused = bpy.data.images.load(f"{d}/tex/fake_user.png")  # only a fake user: the render never reads it
    unused.use_fake_user = True
    write_png(f"{d}/tex/asset.png", (1, 0, 1))
    asset, _ = emission_material("Asset", bpy.data.images.load(f"{d}/tex/asset.png"))  # a material no object uses
    asset.use_fake_user = True
    return [f"{d}/tex/wood.png"]


def add_udim(d, at):
    for tile, color in ((1001, (1, 0.2, 0.2)), (1002, (0.2, 0.2, 1)), (1003, (0, 1, 0))):
        write_png(f"{d}/udim/skin.{tile}.png", color)
    image = bpy.data.images.load(f"{d}/udim/skin.1001.png")
    image.source = "TILED"
    image.filepath = "//udim/skin.<UDIM>.png"
    for tile in list(image.tiles):
        if tile.number not in (1001, 1002):
            image.tiles.remove(tile)
    if not any(t.number == 1002 for t in image.tiles):
        image.tiles.new(1002)
    mat, _ = emission_material("Skin", image)
    quad("Skin1001", mat, (at[0] - 0.5, at[1], 0), size=0.9)
    quad("Skin1002", mat, (at[0] + 0.5, at[1], 0), size=0.9, uv_shift=1.0)
    return [f"{d}/udim/skin.1001.png", f"{d}/udim/skin.1002.png"]


def add_sequence(d, at):
    for frame in range(1, 11):
        write_png(f"{d}/seq/f_{frame:04d}.png", (frame / 10, 1 - frame / 10, 0.5), gradient=False)
    image = bpy.data.images.load(f"{d}/seq/f_0001.png")
    image.source = "SEQUENCE"
    image.filepath = "//seq/f_0001.png"
    mat, tex = emission_material("Seq", image)
    tex.image_user.frame_duration = 10
    tex.image_user.frame_start = 1
    tex.image_user.frame_offset = 2  # frames 3-4 read files 5 and 6
    quad("Seq", mat, at)
    return [f"{d}/seq/f_0005.png", f"{d}/seq/f_0006.png"]


def add_library(d, at, shared):
    """A texture used by a material in a library that is itself linked from a library; the texture
    lives outside the project and is referenced by an absolute path."""
    scene_path = bpy.data.filepath
    write_png(f"{shared}/brick.png", (0.7, 0.1, 0.1))
    # The deepest library: a material whose texture is outside the project.
    bpy.ops.wm.save_mainfile()  # read_factory_settings below wipes the scene being built; reopened after
    bpy.ops.wm.read_factory_settings(use_empty=True)
    image = bpy.data.images.load(f"{shared}/brick.png")
    image.filepath = f"{shared}/brick.png"
    mat, _ = emission_material("Brick", image)
    mat.use_fake_user = True
    save(f"{d}/libs/deep/mat.blend")
    # The middle library: an object using that material, linked.
    quad_file_with_linked_material(f"{d}/libs/wall.blend", "Wall", f"{d}/libs/deep/mat.blend", "Brick")
    bpy.ops.wm.open_mainfile(filepath=scene_path)
    with bpy.data.libraries.load(f"{d}/libs/wall.blend", link=True, relative=True) as (_src, dst):
        dst.objects = ["Wall"]
    wall = dst.objects[0]
    empty = bpy.data.objects.new("WallPlace", None)
    bpy.context.scene.collection.objects.link(empty)
    # Instance the linked object through a collection so it can be placed.
    coll = bpy.data.collections.new("WallColl")
    coll.objects.link(wall)
    empty.instance_type = "COLLECTION"
    empty.instance_collection = coll
    empty.location = at
    return [f"{d}/libs/wall.blend", f"{d}/libs/deep/mat.blend", f"{shared}/brick.png"]


def quad_file_with_linked_material(path: str, name: str, library: str, material: str) -> None:
    """A new .blend at `path` holding a quad `name` whose material is linked from `library`."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with bpy.data.libraries.load(library, link=True, relative=True) as (_src, dst):
        dst.materials = [material]
    quad(name, dst.materials[0], (0, 0, 0))
    save(path)


def add_font(d, at):
    os.makedirs(f"{d}/fonts", exist_ok=True)
    shutil.copyfile(FONT, f"{d}/fonts/DejaVuSans.ttf")
    font = bpy.data.fonts.load(f"{d}/fonts/DejaVuSans.ttf")
    font.filepath = "//fonts/DejaVuSans.ttf"
    curve = bpy.data.curves.new("Hi", "FONT")
    curve.body = "Hi"
    curve.font = font
    curve.size = 1.2
    ob = bpy.data.objects.new("Hi", curve)
    ob.location = (at[0] - 0.8, at[1] - 0.4, 0)
    mat, _ = emission_material("Ink", color=(1, 1, 0.3, 1))
    curve.materials.append(mat)
    bpy.context.scene.collection.objects.link(ob)
    return [f"{d}/fonts/DejaVuSans.ttf"]


def write_wav(path: str, freq: float) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * freq / 8000 * 2 * math.pi)))
                               for i in range(800)))


def add_sound(d, at):
    write_wav(f"{d}/sounds/beep.wav", 440)
    write_wav(f"{d}/sounds/strip.wav", 660)
    sound = bpy.data.sounds.load(f"{d}/sounds/beep.wav")
    sound.filepath = "//sounds/beep.wav"
    speaker = bpy.data.speakers.new("Speaker")
    speaker.sound = sound
    ob = bpy.data.objects.new("Speaker", speaker)
    ob.location = at
    bpy.context.scene.collection.objects.link(ob)
    scene = bpy.context.scene
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    try:
        strip = strips.new_sound("Strip", f"{d}/sounds/strip.wav", 1, 1)
    except RuntimeError:  # the bpy 4.2 wheel is built without Audaspace: no sound strips
        return [f"{d}/sounds/beep.wav"]
    strip.sound.filepath = "//sounds/strip.wav"
    return [f"{d}/sounds/beep.wav", f"{d}/sounds/strip.wav"]


def add_alembic(d, at):
    os.makedirs(f"{d}/cache", exist_ok=True)
    path = bpy.data.filepath
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=1.2)
    bpy.ops.wm.alembic_export(filepath=f"{d}/cache/cube.abc", start=1, end=1, selected=False)
    bpy.ops.wm.open_mainfile(filepath=path)
    before = set(bpy.data.objects)
    bpy.ops.wm.alembic_import(filepath=f"{d}/cache/cube.abc", as_background_job=False, always_add_cache_reader=True)
    for ob in set(bpy.data.objects) - before:
        ob.location = at
        mat, _ = emission_material("AbcPaint", color=(0.3, 0.9, 0.9, 1))
        if ob.type == "MESH":
            ob.data.materials.append(mat)
    for cache in bpy.data.cache_files:
        cache.filepath = "//cache/cube.abc"
    return [f"{d}/cache/cube.abc"]


def add_usd(d, at):
    """A USD cache read through a Mesh Sequence Cache modifier (a CacheFile data-block), like Alembic."""
    if not getattr(bpy.app.build_options, "usd", False) or not hasattr(bpy.ops.wm, "usd_export"):
        return None
    os.makedirs(f"{d}/cache", exist_ok=True)
    path = bpy.data.filepath
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add(size=1.2)
    bpy.context.active_object.name = "Cube"
    bpy.ops.wm.usd_export(filepath=f"{d}/cache/cube.usdc", export_materials=False)
    bpy.ops.wm.open_mainfile(filepath=path)
    mat, _ = emission_material("UsdPaint", color=(0.9, 0.9, 0.2, 1))
    ob = quad("UsdCube", mat, at, size=0.5)
    ob.rotation_euler = (0.6, 0.4, 0)
    mod = ob.modifiers.new("Cache", "MESH_SEQUENCE_CACHE")
    before = set(bpy.data.cache_files)
    bpy.ops.cachefile.open(filepath=f"{d}/cache/cube.usdc")
    (cache,) = set(bpy.data.cache_files) - before
    cache.filepath = "//cache/cube.usdc"
    mod.cache_file = cache
    mod.object_path = "/root/Cube/Cube"
    return [f"{d}/cache/cube.usdc"]


def add_point_cache(d, at):
    ob = quad("Emitter", None, at, size=1.0)
    mod = ob.modifiers.new("Particles", "PARTICLE_SYSTEM")
    psys = mod.particle_system
    psys.settings.count = 20
    psys.settings.frame_start, psys.settings.frame_end = 1, 1
    psys.settings.lifetime = 50
    psys.settings.render_type = "NONE"
    cache = psys.point_cache
    cache.frame_start, cache.frame_end = 1, 8
    bpy.ops.wm.save_mainfile()  # a disk cache needs a saved file
    cache.use_disk_cache = True
    with bpy.context.temp_override(scene=bpy.context.scene, active_object=ob, object=ob, point_cache=cache):
        bpy.ops.ptcache.bake(bake=True)
    folder = os.path.join(d, "blendcache_" + os.path.splitext(os.path.basename(bpy.data.filepath))[0])
    name = "".join(f"{b:02X}" for b in ob.name.encode())
    stored = sorted(os.listdir(folder))
    assert stored == [f"{name}_{f:06d}_{cache.index:02d}.bphys" for f in range(0, 5)], stored
    # Frames 3-4 read frames 3 and 4; the stored neighbour 2 is kept for interpolation (there is no 5).
    return [os.path.join(folder, f"{name}_{f:06d}_{cache.index:02d}.bphys") for f in (2, 3, 4)]


IES = """IESNA:LM-63-2002
TILT=NONE
1 -1 1 3 1 1 2 0 0 0
1 1 0
0 45 90
0
1000 500 0
"""


def add_ies(d, at):
    os.makedirs(f"{d}/lights", exist_ok=True)
    with open(f"{d}/lights/spot.ies", "w") as f:
        f.write(IES)
    light = bpy.data.lights.new("Spot", "POINT")
    light.energy = 200
    light.use_nodes = True
    nodes = light.node_tree.nodes
    ies = nodes.new("ShaderNodeTexIES")
    ies.mode = "EXTERNAL"
    ies.filepath = "//lights/spot.ies"
    emission = next(n for n in nodes if n.type == "EMISSION")
    light.node_tree.links.new(ies.outputs[0], emission.inputs["Strength"])
    ob = bpy.data.objects.new("Spot", light)
    ob.location = (at[0], at[1], 1.5)
    bpy.context.scene.collection.objects.link(ob)
    ground = bpy.data.materials.new("Ground")
    quad("Ground", ground, at)
    return [f"{d}/lights/spot.ies"]


def add_script(d, at):
    os.makedirs(f"{d}/scripts", exist_ok=True)
    with open(f"{d}/scripts/tint.osl", "w") as f:
        f.write("shader tint(output color Out = 0) { Out = color(0.2, 0.8, 0.3); }\n")
    mat, _ = emission_material("Scripted", color=(0.2, 0.8, 0.3, 1))
    script = mat.node_tree.nodes.new("ShaderNodeScript")
    script.mode = "EXTERNAL"
    script.filepath = "//scripts/tint.osl"
    quad("Scripted", mat, at)
    return [f"{d}/scripts/tint.osl"]


def add_import_node(d, at):
    if not hasattr(bpy.types, "GeometryNodeImportOBJ"):
        return None  # Blender older than 4.5: no Import nodes
    os.makedirs(f"{d}/models", exist_ok=True)
    with open(f"{d}/models/tri.obj", "w") as f:
        f.write("v -0.8 -0.8 0\nv 0.8 -0.8 0\nv 0 0.8 0\nf 1 2 3\n")
    mesh = bpy.data.meshes.new("Holder")
    ob = bpy.data.objects.new("Imported", mesh)
    ob.location = at
    bpy.context.scene.collection.objects.link(ob)
    group = bpy.data.node_groups.new("ImportTri", "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    out = group.nodes.new("NodeGroupOutput")
    imp = group.nodes.new("GeometryNodeImportOBJ")
    imp.inputs["Path"].default_value = "//models/tri.obj"
    paint = group.nodes.new("GeometryNodeSetMaterial")
    mat, _ = emission_material("TriPaint", color=(1, 0.4, 1, 1))
    paint.inputs["Material"].default_value = mat
    group.links.new(imp.outputs[0], paint.inputs["Geometry"])
    group.links.new(paint.outputs[0], out.inputs[0])
    ob.modifiers.new("Import", "NODES").node_group = group
    return [f"{d}/models/tri.obj"]


def write_vdbs(targets: dict[int, str]) -> None:
    """Real OpenVDB files, one per frame in `targets` ({frame: path}): a geometry-nodes Bake node bakes a Mesh to
    Volume of a cube that slides 0.25 to the right per frame, and Blender writes each frame's grid as a .vdb blob.
    (The wheel's Mantaflow cannot bake, and it has no `openvdb` module.) The scene being built is saved and
    reopened around it."""
    path = bpy.data.filepath
    bpy.ops.wm.save_mainfile()
    work = tempfile.mkdtemp(prefix="vdb-")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = min(targets), max(targets)
    bpy.ops.mesh.primitive_cube_add(size=1.2)
    ob = bpy.context.active_object
    group = bpy.data.node_groups.new("ToVolume", "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    gin, gout = group.nodes.new("NodeGroupInput"), group.nodes.new("NodeGroupOutput")
    move, time = group.nodes.new("GeometryNodeSetPosition"), group.nodes.new("GeometryNodeInputSceneTime")
    offset, to_volume = group.nodes.new("ShaderNodeCombineXYZ"), group.nodes.new("GeometryNodeMeshToVolume")
    scale = group.nodes.new("ShaderNodeMath")
    scale.operation, scale.inputs[1].default_value = "MULTIPLY", 0.25
    to_volume.inputs["Density"].default_value = 4.0
    if "Resolution Mode" in to_volume.inputs:
        to_volume.inputs["Resolution Mode"].default_value = "Amount"
        to_volume.inputs["Voxel Amount"].default_value = 12
    else:  # before 5.0 the resolution mode is a node property
        to_volume.resolution_mode = "VOXEL_AMOUNT"
        to_volume.inputs["Voxel Amount"].default_value = 12
    bake = group.nodes.new("GeometryNodeBake")
    bake.bake_items.new("GEOMETRY", "Geometry")
    links = group.links
    links.new(time.outputs["Frame"], scale.inputs[0])
    links.new(scale.outputs[0], offset.inputs["X"])
    links.new(offset.outputs[0], move.inputs["Offset"])
    links.new(gin.outputs[0], move.inputs["Geometry"])
    links.new(move.outputs[0], to_volume.inputs[0])
    links.new(to_volume.outputs[0], bake.inputs[0])
    links.new(bake.outputs[0], gout.inputs[0])
    mod = ob.modifiers.new("ToVolume", "NODES")
    mod.node_group = group
    bpy.context.evaluated_depsgraph_get()
    if hasattr(mod, "bake_target"):
        mod.bake_target = "DISK"
    mod.bake_directory = "//bake"
    entry = mod.bakes[0]
    entry.bake_mode = "ANIMATION"
    entry.use_custom_simulation_frame_range = True
    entry.frame_start, entry.frame_end = min(targets), max(targets)
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(work, "vdb.blend"))
    with bpy.context.temp_override(scene=scene, active_object=ob, object=ob, selected_objects=[ob]):
        bpy.ops.object.geometry_node_bake_single(session_uid=ob.session_uid, modifier_name=mod.name,
                                                 bake_id=mod.bakes[0].bake_id)
    blobs = os.path.join(work, "bake", str(mod.bakes[0].bake_id), "blobs")
    for frame, target in targets.items():
        (blob,) = [n for n in os.listdir(blobs) if n.startswith(f"{frame:05d}_") and n.endswith(".vdb")]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(blobs, blob), target)
    shutil.rmtree(work)
    bpy.ops.wm.open_mainfile(filepath=path)


def volume_object(name: str, raw: str, at, color):
    """A Volume object reading `raw`, glowing `color` where its density grid is (Principled Volume emission)."""
    volume = bpy.data.volumes.new(name)
    volume.filepath = raw
    mat = bpy.data.materials.new(name + "Glow")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    nodes.clear()
    shader = nodes.new("ShaderNodeVolumePrincipled")
    shader.inputs["Color"].default_value = (0, 0, 0, 1)
    shader.inputs["Emission Strength"].default_value = 3.0
    shader.inputs["Emission Color"].default_value = color
    out = nodes.new("ShaderNodeOutputMaterial")
    mat.node_tree.links.new(shader.outputs[0], out.inputs["Volume"])
    volume.materials.append(mat)
    ob = bpy.data.objects.new(name, volume)
    ob.location = (at[0] - 1.0, at[1], 0)
    bpy.context.scene.collection.objects.link(ob)
    return volume


def add_volume(d, at):
    """A Volume object loading one .vdb (a second one beside it is not used)."""
    write_vdbs({2: f"{d}/volumes/cloud.vdb", 5: f"{d}/volumes/unused.vdb"})
    volume_object("Cloud", "//volumes/cloud.vdb", at, (0.2, 0.6, 1, 1))
    return [f"{d}/volumes/cloud.vdb"]


def add_volume_sequence(d, at):
    """A VDB sequence of 8 files read with an offset of 2: frames 3-4 read files 5 and 6 only."""
    write_vdbs({f: f"{d}/volumes/smoke/smoke_{f:04d}.vdb" for f in range(1, 9)})
    volume = volume_object("Smoke", "//volumes/smoke/smoke_0001.vdb", at, (1, 0.5, 0.1, 1))
    volume.is_sequence = True
    volume.frame_start, volume.frame_duration, volume.frame_offset = 1, 8, 2
    volume.sequence_mode = "CLIP"
    return [f"{d}/volumes/smoke/smoke_{f:04d}.vdb" for f in (5, 6)]


def add_mesh_cache(d, at):
    """A Mesh Cache modifier reading a .pc2 point cache: a path slot the explicit tracer does not know, caught by
    Blender's own list of paths (bpy.data.file_path_foreach, 5.0+) and shipped as "other"."""
    if not hasattr(bpy.data, "file_path_foreach"):
        return None
    mat, _ = emission_material("Warped", color=(0.6, 1, 0.6, 1))
    ob = quad("Warped", mat, at, size=1.0)
    corners = [tuple(v.co) for v in ob.data.vertices]
    os.makedirs(f"{d}/cache", exist_ok=True)
    with open(f"{d}/cache/warp.pc2", "wb") as f:  # PC2: header, then every frame's points (x, y, z floats)
        f.write(struct.pack("<12siiffi", b"POINTCACHE2\0", 1, len(corners), 1.0, 1.0, 4))
        for frame in range(1, 5):
            for x, y, z in corners:
                f.write(struct.pack("<3f", x * (1 + 0.3 * frame), y * (1 - 0.15 * frame), z))
    mod = ob.modifiers.new("Warp", "MESH_CACHE")
    mod.cache_format = "PC2"
    mod.filepath = "//cache/warp.pc2"
    mod.frame_start = 1
    return [f"{d}/cache/warp.pc2"]


def add_packed(d, at):
    write_png(f"{d}/tex/packed.png", (0.5, 0.9, 0.1))
    image = bpy.data.images.load(f"{d}/tex/packed.png")
    image.pack()
    image.filepath = "//tex/packed.png"
    mat, _ = emission_material("Packed", image)
    quad("Packed", mat, at)
    return []  # inside the .blend: nothing to ship


def simulation_modifier(ob, name: str, step=None):
    """A geometry-nodes modifier whose simulation zone moves the geometry by `step` per frame (or passes it on)."""
    group = bpy.data.node_groups.new(name, "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    gin, gout = group.nodes.new("NodeGroupInput"), group.nodes.new("NodeGroupOutput")
    sim_in, sim_out = group.nodes.new("GeometryNodeSimulationInput"), group.nodes.new("GeometryNodeSimulationOutput")
    sim_in.pair_with_output(sim_out)
    group.links.new(gin.outputs[0], sim_in.inputs[0])
    if step is None:
        group.links.new(sim_in.outputs[1], sim_out.inputs[1])
    else:
        move = group.nodes.new("GeometryNodeSetPosition")
        move.inputs["Offset"].default_value = step
        group.links.new(sim_in.outputs[1], move.inputs["Geometry"])
        group.links.new(move.outputs[0], sim_out.inputs[1])
    group.links.new(sim_out.outputs[0], gout.inputs[0])
    mod = ob.modifiers.new(name, "NODES")
    mod.node_group = group
    bpy.context.evaluated_depsgraph_get()  # creates the modifier's bake entries
    return mod


def add_bake(d, at):
    """A simulation zone that moves a quad 0.5 to the right per frame, baked to disk: without the bake, frame 3
    rendered on its own would show the quad where it starts."""
    mat, _ = emission_material("SimPaint", color=(1, 0.6, 0.1, 1))
    ob = quad("Sim", mat, at, size=0.8)
    mod = simulation_modifier(ob, "Slide", step=(0.5, 0, 0))
    if hasattr(mod, "bake_target"):
        mod.bake_target = "DISK"
    mod.bake_directory = "//bakes/slide"
    bake = mod.bakes[0]
    bpy.ops.wm.save_mainfile()
    with bpy.context.temp_override(scene=bpy.context.scene, active_object=ob, object=ob, selected_objects=[ob]):
        bpy.ops.object.geometry_node_bake_single(session_uid=ob.session_uid, modifier_name=mod.name,
                                                 bake_id=bake.bake_id)
    folder = f"{d}/bakes/slide/{bake.bake_id}"
    files = sorted(os.path.join(r, n) for r, _, names in os.walk(folder) for n in names)
    assert any(f.endswith(".json") for f in files), files
    return files


def add_movie(d, at):
    """A movie texture: three frames of a changing colour, encoded by Blender's FFmpeg."""
    path = bpy.data.filepath
    bpy.ops.wm.save_mainfile()
    scene = new_scene()
    scene.render.resolution_x = scene.render.resolution_y = 16
    scene.frame_end = 3
    settings = scene.render.image_settings
    try:
        if hasattr(settings, "media_type"):
            settings.media_type = "VIDEO"
        settings.file_format = "FFMPEG"
        scene.render.ffmpeg.format = "MPEG4"
        scene.render.ffmpeg.codec = "H264"
    except (TypeError, AttributeError):
        bpy.ops.wm.open_mainfile(filepath=path)
        return None  # no FFmpeg in this build
    mat, _ = emission_material("Flash")
    emit = next(n for n in mat.node_tree.nodes if n.type == "EMISSION")
    for frame, color in ((1, (1, 0, 0, 1)), (2, (0, 1, 0, 1)), (3, (0, 0, 1, 1))):
        emit.inputs["Color"].default_value = color
        emit.inputs["Color"].keyframe_insert("default_value", frame=frame)
    quad("Screen", mat, (0, 0, 0), size=10)
    scene.cycles.samples = 1
    os.makedirs(f"{d}/movie", exist_ok=True)
    scene.render.filepath = f"{d}/movie/clip_"
    bpy.ops.render.render(animation=True)
    bpy.ops.wm.open_mainfile(filepath=path)
    movie = next(f for f in os.listdir(f"{d}/movie") if f.startswith("clip_"))
    image = bpy.data.images.load(f"{d}/movie/{movie}")
    image.filepath = f"//movie/{movie}"
    mat, tex = emission_material("MovieTex", image)
    tex.image_user.frame_duration = 3
    tex.image_user.frame_start = 1
    quad("Movie", mat, at)
    return [f"{d}/movie/{movie}"]


def add_strip(d, at):
    """A sequencer image strip of 10 frames (the render shows the sequencer, so not part of "all")."""
    for frame in range(1, 11):
        write_png(f"{d}/plates/p_{frame:04d}.png", (frame / 10, 0.3, 1 - frame / 10), gradient=False)
    editor = bpy.context.scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    strip = strips.new_image("Plates", f"{d}/plates/p_0001.png", 1, 1)
    for frame in range(2, 11):
        strip.elements.append(f"p_{frame:04d}.png")
    strip.directory = "//plates/"
    return [f"{d}/plates/p_0003.png", f"{d}/plates/p_0004.png"]  # frames 3-4 show elements 3 and 4


BUILDERS = {"image": add_image, "udim": add_udim, "sequence": add_sequence, "library": add_library,
            "font": add_font, "sound": add_sound, "alembic": add_alembic, "usd": add_usd,
            "point_cache": add_point_cache,
            "ies": add_ies, "script": add_script, "import_node": add_import_node, "packed": add_packed,
            "bake": add_bake, "movie": add_movie, "volume": add_volume, "volume_sequence": add_volume_sequence,
            "mesh_cache": add_mesh_cache}


def build_project(root: str, name: str, kinds: list[str], compress: bool = False) -> None:
    d = os.path.join(root, name)
    shared = os.path.join(root, "_shared_assets", name)  # outside every project
    os.makedirs(d, exist_ok=True)
    scene_path = os.path.join(d, "scene.blend")
    new_scene()
    save(scene_path)
    expected, built = [], []
    for i, kind in enumerate(kinds):
        at = ((i % 4) * 2 - 3, (i // 4) * 2 - 2, 0) if len(kinds) > 1 else (0, 0, 0)
        args = (d, at, shared) if kind == "library" else (d, at)
        sources = {**BUILDERS, **SEPARATE}[kind](*args)
        if sources is None:
            continue
        expected += sources
        built.append(kind)
    save(scene_path, compress=compress)
    if not built:
        return
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"files": sorted(os.path.abspath(p) for p in expected), "kinds": built, "frames": FRAMES,
                   "render_frame": RENDER_FRAME, "compressed": compress}, f, indent=1)


SEPARATE = {"strip": add_strip}  # projects not folded into "all"


def build(root: str, only: list[str] | None = None) -> None:
    for kind in only or [*BUILDERS, *SEPARATE]:
        build_project(root, kind, [kind])
    if not only:
        build_project(root, "all", list(BUILDERS), compress=True)
    for name in os.listdir(root):
        if not os.path.exists(os.path.join(root, name, "expected.json")) and name != "_shared_assets":
            shutil.rmtree(os.path.join(root, name))  # a kind this Blender has not got


# ------------------------------------------------------------------------------------ pack, render


def build_cycle(d: str) -> None:
    """a.blend links an object from b.blend, whose material is linked from a.blend: a library cycle."""
    os.makedirs(d, exist_ok=True)
    new_scene()
    mat, _ = emission_material("Loop", color=(0.2, 0.6, 1, 1))
    mat.use_fake_user = True
    save(f"{d}/a.blend")
    quad_file_with_linked_material(f"{d}/b.blend", "Looped", f"{d}/a.blend", "Loop")
    bpy.ops.wm.open_mainfile(filepath=f"{d}/a.blend")
    with bpy.data.libraries.load(f"{d}/b.blend", link=True, relative=True) as (_src, dst):
        dst.objects = ["Looped"]
    bpy.context.scene.collection.objects.link(dst.objects[0])
    save(f"{d}/a.blend")


def build_odd(d: str) -> None:
    """A project and a texture whose names hold spaces, quotes, '#', '%', non-ASCII and a newline-free emoji."""
    os.makedirs(d, exist_ok=True)
    new_scene()
    name = "wood & grain 'ü' #2 %d 🌲.png"
    write_png(f"{d}/tex ü #/{name}", (0.9, 0.5, 0.2))
    image = bpy.data.images.load(f"{d}/tex ü #/{name}")
    image.filepath = f"//tex ü #/{name}"
    mat, _ = emission_material("Odd", image)
    quad("Odd", mat, (0, 0, 0))
    save(f"{d}/scène #1.blend")


def pack_all(root: str, out: str) -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from addon.blender.pack import pack_file
    from addon.farm.hash_cache import HashCache

    cache = HashCache(os.path.join(out, "hashes.sqlite3"))
    for name in sorted(os.listdir(root)):
        blend = os.path.join(root, name, "scene.blend")
        if not os.path.exists(blend):
            continue
        result = pack_file(blend, os.path.join(out, name), frames=FRAMES, cache=cache)
        with open(os.path.join(out, name + ".result.json"), "w") as f:
            json.dump(result.to_json(), f, indent=1)


def render(spec_path: str) -> None:
    import numpy as np

    with open(spec_path) as f:
        spec = json.load(f)
    bpy.context.preferences.filepaths.use_scripts_auto_execute = False
    report = {}
    for blend, frame, png in spec["renders"]:
        bpy.ops.wm.open_mainfile(filepath=blend, load_ui=False, use_scripts=False)
        scene = bpy.context.scene
        scene.frame_set(frame)
        scene.render.filepath = png
        scene.render.use_file_extension = False
        bpy.ops.render.render(write_still=True)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        particles = [[round(c, 4) for p in ob.evaluated_get(depsgraph).particle_systems[0].particles
                      for c in p.location] for ob in scene.objects if ob.particle_systems]
        libraries = sorted((lib.name, lib.is_missing) for lib in bpy.data.libraries)
        report[png] = {"particles": particles, "libraries": libraries,
                       "objects": sorted(o.name for o in scene.objects)}
    for a, b in spec.get("compare", []):
        pa, pb = bpy.data.images.load(a), bpy.data.images.load(b)
        x = np.array(pa.pixels[:], dtype=np.float32)
        y = np.array(pb.pixels[:], dtype=np.float32)
        report[f"{a} vs {b}"] = {"max": float(np.abs(x - y).max()) if x.shape == y.shape else 1e9,
                                 "mean_value": float(x.mean())}
    with open(spec["report"], "w") as f:
        json.dump(report, f, indent=1)


def volume_frames(blend: str, out: str) -> None:
    """For every sequence mode and scene frames -1..11: the file Blender's volume loads, and the one
    farm/package.py says it reads (start 2, duration 3, offset 1)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from addon.farm.package import sequence_file, volume_frame

    bpy.ops.wm.open_mainfile(filepath=blend, load_ui=False, use_scripts=False)
    ob = next(o for o in bpy.context.scene.objects if o.type == "VOLUME" and o.data.is_sequence)
    volume = ob.data
    volume.frame_start, volume.frame_duration, volume.frame_offset = 2, 3, 1
    first = bpy.path.abspath(volume.filepath)
    report = []
    for mode in ("CLIP", "EXTEND", "REPEAT", "PING_PONG"):
        volume.sequence_mode = mode
        for frame in range(-1, 12):
            bpy.context.scene.frame_set(frame)
            grids = ob.evaluated_get(bpy.context.evaluated_depsgraph_get()).data.grids
            ours = volume_frame(frame, start=2, duration=3, offset=1, mode=mode)
            report.append({"mode": mode, "frame": frame, "blender": grids.frame_filepath or None,
                           "ours": sequence_file(first, ours) if ours is not None else None})
    with open(out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "build":
        build(os.path.abspath(sys.argv[2]), sys.argv[3:])
    elif command == "cycle":
        build_cycle(os.path.abspath(sys.argv[2]))
    elif command == "odd":
        build_odd(os.path.abspath(sys.argv[2]))
    elif command == "pack":
        pack_all(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]))
    elif command == "render":
        render(sys.argv[2])
    elif command == "volume-frames":
        volume_frames(os.path.abspath(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
