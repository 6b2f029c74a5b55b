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


def tiny():
    scene = _base(size=(32, 24), samples=8, frames=(1, 2))
    bpy.ops.mesh.primitive_cube_add(location=(0, 0, 1))
    return scene


def simple():
    scene = _base(samples=48, frames=(1, 8))
    _sphere()
    return scene


def heavy_geometry():
    scene = _base(samples=24, frames=(1, 8))
    for i in range(5):
        _sphere(location=(i * 1.6 - 3.2, 0, 0.8), subdivisions=8, radius=0.75)  # 5 x 262k triangles
    return scene


def many_lights():
    scene = _base(samples=32, frames=(1, 4))
    _sphere(subdivisions=4)
    for i in range(64):
        bpy.ops.object.light_add(type="POINT", location=(math.cos(i) * 4, math.sin(i) * 4, 0.5 + (i % 5) * 0.5))
        bpy.context.object.data.energy = 40
    return scene


def volume():
    scene = _base(size=(128, 96), samples=32, frames=(1, 3))
    bpy.ops.mesh.primitive_cube_add(size=2.5, location=(0, 0, 1.3))
    material = bpy.data.materials.new("smoke")
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.remove(nodes["Principled BSDF"])
    fog = nodes.new("ShaderNodeVolumePrincipled")
    fog.inputs["Density"].default_value = 2.0
    links.new(fog.outputs["Volume"], nodes["Material Output"].inputs["Volume"])
    bpy.context.object.data.materials.append(material)
    return scene


def high_samples():
    scene = _base(size=(96, 72), samples=384, frames=(1, 2))
    _sphere(location=(-1, 0, 1), material=_material((1, 1, 1), **{"Transmission Weight": 1.0, "Roughness": 0.0}))
    _sphere(location=(1.2, 0, 1), material=_material((0.9, 0.9, 0.9), Metallic=1.0, Roughness=0.1))
    return scene


def eevee():
    scene = _base(engine="BLENDER_EEVEE", size=(64, 48), samples=8, frames=(1, 3))
    _sphere(subdivisions=4)
    return scene


def motion_blur():
    scene = _base(samples=32, frames=(1, 4))
    scene.render.use_motion_blur = True
    for i in range(3):
        obj = _sphere(location=(i * 2 - 2, 0, 1), radius=0.7)
        obj.keyframe_insert("location", frame=1)
        obj.location.x += 3
        obj.keyframe_insert("location", frame=4)
    return scene


def hair():
    scene = _base(samples=24, frames=(1, 3))
    bpy.ops.mesh.primitive_plane_add(size=3, location=(0, 0, 0.01))
    obj = bpy.context.object
    obj.modifiers.new("hair", "PARTICLE_SYSTEM")
    settings = obj.particle_systems[0].settings
    settings.type, settings.count, settings.hair_length = "HAIR", 20000, 0.6
    return scene


def large_textures():
    scene = _base(samples=32, frames=(1, 6))
    image = bpy.data.images.new("big", 2048, 2048, float_buffer=True)
    image.generated_type = "COLOR_GRID"
    material = _material()
    nodes = material.node_tree.nodes
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    material.node_tree.links.new(texture.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    _sphere(material=material)
    return scene


def long_animation():
    scene = _base(size=(128, 96), samples=24, frames=(1, 40))
    obj = _sphere(location=(-4, 2, 0.5), subdivisions=5, radius=0.4)
    array = obj.modifiers.new("copies", "ARRAY")
    array.relative_offset_displace = (1.1, 0, 0)
    array.count = 1
    array.keyframe_insert("count", frame=1)
    array.count = 24
    array.keyframe_insert("count", frame=40)
    return scene


def adaptive_denoise():
    scene = _base(samples=256, frames=(1, 3))
    scene.cycles.use_adaptive_sampling = True
    scene.cycles.adaptive_threshold = 0.05
    scene.cycles.use_denoising = True
    scene.cycles.denoiser = "OPENIMAGEDENOISE"
    _sphere(material=_material(Roughness=0.3))
    return scene


def instances():
    scene = _base(samples=32, frames=(1, 4))
    leaf = _sphere(location=(0, 0, -50), subdivisions=2, radius=0.08)
    bpy.ops.mesh.primitive_plane_add(size=6, location=(0, 0, 0.5))
    emitter = bpy.context.object
    emitter.modifiers.new("scatter", "PARTICLE_SYSTEM")
    settings = emitter.particle_systems[0].settings
    settings.count, settings.frame_start, settings.frame_end, settings.lifetime = 1500, 1, 1, 1000
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
    for name in names:
        scene = globals()[name]()
        scene.render.threads_mode = "AUTO"
        bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out_dir, name + ".blend"))
    print("BUILT " + ",".join(names), flush=True)
