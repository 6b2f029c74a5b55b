"""Builders of the estimate corpus's scenes (bpy; runs as a child Blender's code, see estimate_corpus.py)."""

import math
import os

import bpy


def _base(engine="CYCLES", size=(160, 120), samples=32, frames=(1, 3)):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = engine
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = frames
    if engine == "CYCLES":
        scene.cycles.device = "CPU"
        scene.cycles.samples = samples
        scene.cycles.use_adaptive_sampling = False
        scene.cycles.use_denoising = False
        scene.cycles.seed = 1
    else:
        scene.eevee.taa_render_samples = samples
    bpy.ops.object.camera_add(location=(0, -7, 3), rotation=(math.radians(68), 0, 0))
    scene.camera = bpy.context.object
    bpy.ops.object.light_add(type="SUN", rotation=(0.6, 0.2, 0.4))
    bpy.ops.mesh.primitive_plane_add(size=20)
    world = bpy.data.worlds.new("world")
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.3, 0.35, 0.45, 1)
    scene.world = world
    return scene


def _material(color=(0.8, 0.5, 0.3), **inputs):
    material = bpy.data.materials.new("m")
    bsdf = material.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1)
    for name, value in inputs.items():
        bsdf.inputs[name].default_value = value
    return material


def _sphere(location=(0, 0, 1), subdivisions=3, radius=1.0, material=None):
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=subdivisions, radius=radius, location=location)
    obj = bpy.context.object
    obj.data.materials.append(material or _material())
    return obj


def tiny(b=False):
    scene = _base(size=(48, 36) if b else (32, 24), samples=4 if b else 8, frames=(1, 3 if b else 2))
    bpy.ops.mesh.primitive_cube_add(location=(0, 0, 1))
    return scene


def simple(b=False):
    scene = _base(size=(200, 150) if b else (160, 120), samples=16 if b else 48, frames=(1, 4 if b else 8))
    _sphere(subdivisions=2 if b else 3)
    return scene


def heavy_geometry(b=False):
    scene = _base(samples=48 if b else 24, frames=(1, 3 if b else 8))
    for i in range(3 if b else 5):
        _sphere(location=(i * 1.6 - 3.2, 0, 0.8), subdivisions=8, radius=0.75)  # 5 x 262k triangles
    return scene


def many_lights(b=False):
    scene = _base(samples=32, frames=(1, 3 if b else 4))
    _sphere(subdivisions=4)
    for i in range(16 if b else 64):
        bpy.ops.object.light_add(type="POINT", location=(math.cos(i) * 4, math.sin(i) * 4, 0.5 + (i % 5) * 0.5))
        bpy.context.object.data.energy = 40
    return scene


def volume(b=False):
    scene = _base(size=(96, 72) if b else (128, 96), samples=48 if b else 32, frames=(1, 2 if b else 3))
    bpy.ops.mesh.primitive_cube_add(size=2.5, location=(0, 0, 1.3))
    material = bpy.data.materials.new("smoke")
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.remove(nodes["Principled BSDF"])
    fog = nodes.new("ShaderNodeVolumePrincipled")
    fog.inputs["Density"].default_value = 0.5 if b else 2.0
    links.new(fog.outputs["Volume"], nodes["Material Output"].inputs["Volume"])
    bpy.context.object.data.materials.append(material)
    return scene


def high_samples(b=False):
    scene = _base(size=(64, 48) if b else (96, 72), samples=256 if b else 384, frames=(1, 2))
    _sphere(location=(-1, 0, 1), material=_material((1, 1, 1), **{"Transmission Weight": 1.0, "Roughness": 0.0}))
    if not b:
        _sphere(location=(1.2, 0, 1), material=_material((0.9, 0.9, 0.9), Metallic=1.0, Roughness=0.1))
    return scene


def eevee(b=False):
    scene = _base(engine="BLENDER_EEVEE", size=(128, 96) if b else (64, 48), samples=4 if b else 8, frames=(1, 3))
    _sphere(subdivisions=4)
    return scene


def motion_blur(b=False):
    scene = _base(samples=24 if b else 32, frames=(1, 3 if b else 4))
    scene.render.use_motion_blur = True
    for i in range(2 if b else 3):
        obj = _sphere(location=(i * 2 - 2, 0, 1), radius=0.7)
        obj.keyframe_insert("location", frame=1)
        obj.location.x += 3
        obj.keyframe_insert("location", frame=4)
    return scene


def hair(b=False):
    scene = _base(samples=32 if b else 24, frames=(1, 3))
    bpy.ops.mesh.primitive_plane_add(size=3, location=(0, 0, 0.01))
    obj = bpy.context.object
    obj.modifiers.new("hair", "PARTICLE_SYSTEM")
    settings = obj.particle_systems[0].settings
    settings.type, settings.count, settings.hair_length = "HAIR", 8000 if b else 20000, 0.6
    return scene


def large_textures(b=False):
    scene = _base(samples=24 if b else 32, frames=(1, 4 if b else 6))
    image = bpy.data.images.new("big", 1024 if b else 2048, 1024 if b else 2048, float_buffer=True)
    image.generated_type = "COLOR_GRID"
    material = _material()
    nodes = material.node_tree.nodes
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    material.node_tree.links.new(texture.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    _sphere(material=material)
    return scene


def long_animation(b=False):
    scene = _base(size=(96, 72) if b else (128, 96), samples=32 if b else 24, frames=(1, 24 if b else 40))
    obj = _sphere(location=(-4, 2, 0.5), subdivisions=5, radius=0.4)
    array = obj.modifiers.new("copies", "ARRAY")
    array.relative_offset_displace = (1.1, 0, 0)
    array.count = 1
    array.keyframe_insert("count", frame=1)
    array.count = 12 if b else 24
    array.keyframe_insert("count", frame=scene.frame_end)
    return scene


def adaptive_denoise(b=False, adaptive=True, denoise=True):
    scene = _base(samples=(128 if b else 256) if adaptive else 64, frames=(1, 2 if b else 3))
    scene.cycles.use_adaptive_sampling = adaptive
    scene.cycles.adaptive_threshold = 0.1 if b else 0.05
    scene.cycles.use_denoising = denoise
    scene.cycles.denoiser = "OPENIMAGEDENOISE"
    _sphere(material=_material(Roughness=0.3))
    return scene


def denoise():
    return adaptive_denoise(adaptive=False)


def adaptive(b=False):
    return adaptive_denoise(b, denoise=False)


def instances(b=False):
    scene = _base(samples=32, frames=(1, 3 if b else 4))
    leaf = _sphere(location=(0, 0, -50), subdivisions=2, radius=0.08)
    bpy.ops.mesh.primitive_plane_add(size=6, location=(0, 0, 0.5))
    emitter = bpy.context.object
    emitter.modifiers.new("scatter", "PARTICLE_SYSTEM")
    settings = emitter.particle_systems[0].settings
    settings.count, settings.frame_start, settings.frame_end, settings.lifetime = 600 if b else 1500, 1, 1, 1000
    settings.physics_type, settings.render_type, settings.instance_object = "NO", "OBJECT", leaf
    settings.emit_from = "FACE"
    emitter.show_instancer_for_render = False
    return scene


def empty():
    """Not in the corpus: a camera and a light, nothing to render (the estimate must refuse it)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    bpy.ops.object.camera_add()
    scene.camera = bpy.context.object
    bpy.ops.object.light_add(type="SUN")
    return scene


def child_main(args):
    out_dir, names = args[0], args[1:]
    for name in names:  # NAME_b: the second half's variant of NAME (other sizes, samples, feature strength)
        builder, variant = (name[:-2], True) if name.endswith("_b") else (name, False)
        scene = globals()[builder](b=True) if variant else globals()[builder]()
        scene.render.threads_mode = "AUTO"
        bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out_dir, name + ".blend"))
    print("BUILT " + ",".join(names), flush=True)
