"""Hostile test scenes for the provider's renderer, built by code in a bpy subprocess, and the plain
render that shows each attack working when nothing protects against it (the control runs)."""

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np

_COMMON = r"""
import bpy, sys
args = sys.argv[sys.argv.index("--") + 1:]
blend = args[0]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = 2
scene.render.resolution_x = scene.render.resolution_y = 32
scene.view_settings.view_transform = "Standard"
def camera(location=(0, -8, 0), rotation=(1.5708, 0, 0)):
    bpy.ops.object.camera_add(location=location, rotation=rotation)
    scene.camera = bpy.context.active_object
    return scene.camera
def emission(name, color=(1, 1, 1, 1)):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    tree = mat.node_tree
    tree.nodes.clear()
    emit, out = tree.nodes.new("ShaderNodeEmission"), tree.nodes.new("ShaderNodeOutputMaterial")
    emit.inputs["Color"].default_value = color
    tree.links.new(emit.outputs[0], out.inputs["Surface"])
    return mat, tree, emit
def compositor_writing_to(outside):
    tree = bpy.data.node_groups.new("comp", "CompositorNodeTree")
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    layers, result = tree.nodes.new("CompositorNodeRLayers"), tree.nodes.new("NodeGroupOutput")
    planted = tree.nodes.new("CompositorNodeOutputFile")
    planted.directory = outside
    planted.file_name = "planted_"
    planted.file_output_items.new("RGBA", "Image")
    planted.format.media_type = "IMAGE"
    planted.format.file_format = "PNG"
    tree.links.new(layers.outputs["Image"], result.inputs[0])
    tree.links.new(layers.outputs["Image"], planted.inputs["Image"])
    return tree
"""

_SAVE = "\nbpy.ops.wm.save_as_mainfile(filepath=blend)\n"

# Each scene takes: blend path, then the vector's own arguments. `marker` args are paths that must
# never appear; `secret` args are files outside the job whose content must never reach the image.
SCENES = {
    # A text block registered to run when the file is opened.
    "text_block": r"""
marker = args[1]
text = bpy.data.texts.new("on_load.py")
text.write(f"open({marker!r}, 'w').write('text block ran')\n")
text.use_module = True
bpy.ops.mesh.primitive_cube_add()
camera()
""",
    # A driver whose Python expression runs whenever the scene is evaluated.
    "driver": r"""
marker = args[1]
bpy.ops.mesh.primitive_cube_add()
curve = bpy.context.active_object.driver_add("location", 0)
curve.driver.type = "SCRIPTED"
curve.driver.expression = f"__import__('pathlib').Path({marker!r}).write_text('driver ran') and 0"
camera()
""",
    # A text block that registers a render handler: the code runs at render time, not at load.
    "handler": r"""
marker = args[1]
text = bpy.data.texts.new("handler.py")
text.write("import bpy\n"
           "def steal(scene, *_):\n"
           f"    open({marker!r}, 'w').write('handler ran')\n"
           "bpy.app.handlers.render_pre.append(steal)\n")
text.use_module = True
bpy.ops.mesh.primitive_cube_add()
camera()
""",
    # Freestyle in Python script mode: the style module runs at render time even with scripts off.
    "freestyle": r"""
marker, secret = args[1], args[2]
bpy.ops.mesh.primitive_cube_add()
camera()
scene.render.use_freestyle = True
layer = scene.view_layers[0]
layer.use_freestyle = True
layer.freestyle_settings.mode = "SCRIPT"
text = bpy.data.texts.new("style.py")
text.write(f"open({marker!r}, 'w').write('freestyle ran; read: ' + open({secret!r}).read())\n")
layer.freestyle_settings.modules.new().script = text
""",
    # A script node with stored OSL bytecode (no compiler needed) whose texture() reads an outside image
    # onto a plane that fills the view.
    "osl": r"""
secret = args[1]
scene.cycles.shading_system = True
bpy.ops.mesh.primitive_plane_add(size=20, rotation=(1.5708, 0, 0))
plane = bpy.context.active_object
camera()
mat, tree, emit = emission("steal", (0, 0, 0, 1))
script = tree.nodes.new("ShaderNodeScript")
script.mode = "INTERNAL"
script.outputs.new("NodeSocketColor", "Out")  # what Cycles' osl.update_script_node would add (needs oslquery)
script.bytecode = f'''OpenShadingLanguage 1.00
# compiled from: shader steal(output color Out = 0) {{ Out = texture("{secret}", u, v); }}
shader steal
oparam\tcolor\tOut\t0 0 0\t\t%read{{2147483647,-1}} %write{{0,0}}
global\tfloat\tu\t%read{{0,0}} %write{{2147483647,-1}}
global\tfloat\tv\t%read{{0,0}} %write{{2147483647,-1}}
const\tstring\t$const1\t"{secret}"\t\t%read{{0,0}} %write{{2147483647,-1}}
code ___main___
\ttexture\t\tOut $const1 u v \t%argrw{{"wrrr"}}
\tend
'''
script.bytecode_hash = "5ec2e7" * 5 + "00"
tree.links.new(script.outputs["Out"], emit.inputs["Color"])
plane.data.materials.append(mat)
""",
    # The plainest read: an ordinary Image Texture node whose image lies outside the job.
    "image_texture": r"""
secret = args[1]
bpy.ops.mesh.primitive_plane_add(size=20, rotation=(1.5708, 0, 0))
plane = bpy.context.active_object
camera()
mat, tree, emit = emission("picture", (0, 0, 0, 1))
texture = tree.nodes.new("ShaderNodeTexImage")
texture.image = bpy.data.images.load(secret)
tree.links.new(texture.outputs["Color"], emit.inputs["Color"])
plane.data.materials.append(mat)
""",
    # Geometry nodes read a text file outside the job and draw it as white letters on black.
    "import_text": r"""
import os
secret = args[1]
bpy.ops.mesh.primitive_plane_add()
target = bpy.context.active_object
cam = camera(location=(2.5, 0.3, 10), rotation=(0, 0, 0))
cam.data.type = "ORTHO"
cam.data.ortho_scale = 7
scene.world = bpy.data.worlds.new("black")
scene.world.color = (0, 0, 0)
mat, _, _ = emission("white")
tree = bpy.data.node_groups.new("read", "GeometryNodeTree")
tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
read = tree.nodes.new("GeometryNodeImportText")
if args[2:] == ["computed"]:  # the path is made inside the tree, where blend_paths() cannot see it
    compute = tree.nodes.new("FunctionNodeReplaceString")
    compute.inputs["String"].default_value = "/nowhere/" + os.path.basename(secret)
    compute.inputs["Find"].default_value = "/nowhere"
    compute.inputs["Replace"].default_value = os.path.dirname(secret)
    tree.links.new(compute.outputs["String"], read.inputs["Path"])
else:
    read.inputs["Path"].default_value = secret
letters = tree.nodes.new("GeometryNodeStringToCurves")
fill = tree.nodes.new("GeometryNodeFillCurve")
paint = tree.nodes.new("GeometryNodeSetMaterial")
paint.inputs["Material"].default_value = mat
out = tree.nodes.new("NodeGroupOutput")
tree.links.new(read.outputs["String"], letters.inputs["String"])
tree.links.new(letters.outputs["Curve Instances"], fill.inputs[0])
tree.links.new(fill.outputs[0], paint.inputs[0])
tree.links.new(paint.outputs[0], out.inputs[0])
target.modifiers.new("read", "NODES").node_group = tree
""",
    # The compositor writes a copy of every frame into a directory outside the job.
    "file_output": r"""
outside = args[1]
bpy.ops.mesh.primitive_cube_add()
camera()
scene.compositing_node_group = compositor_writing_to(outside)
scene.render.use_compositing = True
""",
    # The same File Output node, hidden in a compositor node group linked from a library .blend of the job.
    "linked_file_output": r"""
import os
outside = args[1]
library = os.path.join(os.path.dirname(blend), "library.blend")
camera()  # the library's scene, rendered by the group's Render Layers node, needs one too
compositor_writing_to(outside).use_fake_user = True
bpy.ops.wm.save_as_mainfile(filepath=library)
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.samples = 1
scene.render.resolution_x = scene.render.resolution_y = 32
bpy.ops.mesh.primitive_cube_add()
camera()
with bpy.data.libraries.load(library, link=True, relative=True) as (_, linked):
    linked.node_groups = ["comp"]
scene.compositing_node_group = linked.node_groups[0]
scene.render.use_compositing = True
""",
    # Frame 2 needs far more samples than the others: the time-cap scene.
    "slow_frame": r"""
bpy.ops.mesh.primitive_cube_add()
camera()
scene.cycles.use_adaptive_sampling = False
scene.cycles.use_denoising = False
for frame, samples in ((1, 1), (2, 1000000), (3, 1)):
    scene.cycles.samples = samples
    scene.cycles.keyframe_insert("samples", frame=frame)
scene.frame_start, scene.frame_end = 1, 3
""",
    # A plain animated scene for chunk tests: a cube that moves each frame.
    "moving": r"""
bpy.ops.mesh.primitive_cube_add()
cube = bpy.context.active_object
for frame in range(1, 7):
    cube.location = (frame * 0.3 - 1, 0, 0)
    cube.keyframe_insert("location", frame=frame)
camera()
mat, _, _ = emission("white")
cube.data.materials.append(mat)
""",
}


def build(kind: str, blend: Path, *args) -> Path:
    """Save the scene `kind` to blend (scripts are not run while building: only written)."""
    blend.parent.mkdir(parents=True, exist_ok=True)
    source = _COMMON + SCENES[kind] + _SAVE
    subprocess.run([sys.executable, "-c", source, "--", str(blend), *map(str, args)], check=True,
                   capture_output=True, timeout=300)
    return blend


# The control: render like Blender does by default, or like the old renderer (scripts disabled but
# nothing else done), in a plain process with no sandbox.
UNPROTECTED_RENDER = r"""
import bpy, sys
blend, out, scripts = sys.argv[-3], sys.argv[-2], sys.argv[-1] == "scripts"
bpy.context.preferences.filepaths.use_scripts_auto_execute = scripts
bpy.ops.wm.open_mainfile(filepath=blend, use_scripts=scripts)
scene = bpy.context.scene
scene.frame_set(1)
scene.render.filepath = out
scene.render.image_settings.file_format = "PNG"
scene.render.use_file_extension = False
bpy.ops.render.render(write_still=True)
"""


def unprotected_argv(blend: Path, out: Path, *, scripts: bool = False) -> list[str]:
    """Render frame 1 of blend to out with no protection beyond `scripts=False`."""
    return [sys.executable, "-I", "-c", UNPROTECTED_RENDER, str(blend), str(out), "scripts" if scripts else "-"]


def unprotected_render(blend: Path, out: Path, *, scripts: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(unprotected_argv(blend, out, scripts=scripts), capture_output=True, text=True, timeout=300)


def pixels(png: Path) -> np.ndarray:
    """An 8-bit RGB(A) PNG as a height x width x channels uint8 array (no imaging library needed)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color_type = header[:4]
    assert depth == 8 and color_type in (2, 6), f"{png}: only 8-bit RGB/RGBA (got depth {depth}, type {color_type})"
    channels = 4 if color_type == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows = np.zeros((height, stride), dtype=np.int32)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        row = line.copy()
        if kind == 1 or kind == 3 or kind == 4:  # sub / average / Paeth depend on the pixel to the left
            for x in range(stride):
                left = row[x - channels] if x >= channels else 0
                up, corner = previous[x], previous[x - channels] if x >= channels else 0
                if kind == 1:
                    row[x] = (line[x] + left) & 255
                elif kind == 3:
                    row[x] = (line[x] + (left + up) // 2) & 255
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                    row[x] = (line[x] + pred) & 255
        elif kind == 2:
            row = (line + previous) & 255
        rows[y], previous = row, row
    return rows.reshape(height, width, channels).astype(np.uint8)


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def write_png(path: Path, rgb: tuple[int, int, int], size: int = 8) -> Path:
    """A size x size PNG of one color."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\0" + bytes(rgb) * size for _ in range(size))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path
