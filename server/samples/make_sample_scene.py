"""Build the bundled sample scene: a lit, rotating cube over 24 frames, rendered quickly by Cycles.

Run by Blender (`python -m server.samples.make_sample_scene OUT.blend` with the bpy wheel); the demo
makes it once and reuses it, so no binary .blend needs to live in the repository.
"""

import math
import sys

import bpy


def build(path: str) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 24
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 8
    scene.render.resolution_x, scene.render.resolution_y = 320, 180
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = "//frames/frame_"

    world = bpy.data.worlds.new("Sky")
    world.color = (0.35, 0.45, 0.6)
    scene.world = world
    bpy.ops.mesh.primitive_plane_add(size=20, location=(0, 0, -1))
    bpy.ops.mesh.primitive_cube_add(size=2)
    cube = bpy.context.active_object
    paint = bpy.data.materials.new("Orange")
    paint.diffuse_color = (0.9, 0.35, 0.05, 1)
    paint.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.9, 0.35, 0.05, 1)
    cube.data.materials.append(paint)
    cube.rotation_euler = (0, 0, 0)
    cube.keyframe_insert("rotation_euler", frame=1)
    cube.rotation_euler = (0, 0, math.pi / 2)
    cube.keyframe_insert("rotation_euler", frame=24)

    bpy.ops.object.light_add(type="SUN", location=(4, -4, 6), rotation=(math.radians(40), math.radians(20), 0))
    bpy.context.active_object.data.energy = 4
    bpy.ops.object.camera_add(location=(6, -6, 4.5), rotation=(math.radians(63), 0, math.radians(45)))
    scene.camera = bpy.context.active_object
    bpy.ops.wm.save_as_mainfile(filepath=path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m server.samples.make_sample_scene OUT.blend")
    build(sys.argv[1])
