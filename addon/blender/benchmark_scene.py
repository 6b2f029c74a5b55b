"""The provider benchmark scene, built in code, and the timed renders of it (runs in a child Blender).

Deterministic: the factory scene is emptied and rebuilt from fixed numbers, Cycles with a fixed seed,
fixed samples, no adaptive sampling, no denoising, so every machine does exactly the same work. Small
but real: a few hundred thousand triangles of diffuse, glossy and glass spheres under an area light and
a sky-coloured world, 128x128 px, 32 samples, 8 bounces (about 0.5 s per render on the reference).

Only bpy and the standard library: addon.farm.benchmark runs this file's source in a fresh Blender
and reads the `BENCHMARK {json}` line that `child_main` prints.
"""

import json
import math
import time

import bpy

RESOLUTION = 128
SAMPLES = 32
SEED = 7


def _material(name: str, color, *, metallic=0.0, roughness=0.5, transmission=0.0):
    material = bpy.data.materials.new(name)
    bsdf = material.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Transmission Weight"].default_value = transmission
    return material


def build(device: str = "CPU", threads: int = 0) -> bpy.types.Scene:
    """Replace the current file's content with the benchmark scene and return it."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    materials = [_material("diffuse", (0.8, 0.3, 0.2)),
                 _material("metal", (0.9, 0.9, 0.9), metallic=1.0, roughness=0.15),
                 _material("glass", (1.0, 1.0, 1.0), roughness=0.0, transmission=1.0)]
    for i in range(9):  # 3x3 spheres, 5 subdivisions each: ~180k triangles
        bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=5, radius=0.45,
                                              location=((i % 3 - 1) * 1.0, (i // 3 - 1) * 1.0, 0.45))
        bpy.ops.object.shade_smooth()
        bpy.context.object.data.materials.append(materials[i % 3])
    bpy.ops.mesh.primitive_plane_add(size=8)
    bpy.context.object.data.materials.append(_material("floor", (0.5, 0.5, 0.5), roughness=0.8))
    bpy.ops.object.light_add(type="AREA", location=(1.5, -1.5, 3.0))
    bpy.context.object.data.energy = 400
    bpy.context.object.data.size = 1.5
    bpy.ops.object.camera_add(location=(0.0, -4.2, 2.6), rotation=(math.radians(60), 0.0, 0.0))
    scene.camera = bpy.context.object
    world = bpy.data.worlds.new("sky")
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.4, 0.5, 0.7, 1.0)
    scene.world = world

    scene.render.engine = "CYCLES"
    scene.render.resolution_x = scene.render.resolution_y = RESOLUTION
    scene.render.resolution_percentage = 100
    scene.render.threads_mode = "FIXED" if threads else "AUTO"
    if threads:
        scene.render.threads = threads
    cycles = scene.cycles
    cycles.samples, cycles.seed, cycles.use_animated_seed = SAMPLES, SEED, False
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False
    cycles.max_bounces, cycles.diffuse_bounces, cycles.glossy_bounces, cycles.transmission_bounces = 8, 4, 4, 8
    _use_device(scene, device)
    return scene


def _use_device(scene, device: str) -> None:
    if device == "CPU":
        scene.cycles.device = "CPU"
        return
    prefs = bpy.context.preferences.addons["cycles"].preferences
    try:
        prefs.compute_device_type = device
    except TypeError:
        raise SystemExit(f"this Blender's Cycles has no {device} backend") from None
    prefs.get_devices()
    found = [d for d in prefs.devices if d.type == device]
    if not found:
        raise SystemExit(f"Cycles found no {device} device on this machine")
    for d in prefs.devices:
        d.use = d.type == device
    scene.cycles.device = "GPU"


def timed_renders(scene, repeats: int) -> list[float]:
    """Seconds of each render after one untimed warm-up (kernel load and caches)."""
    scene.render.filepath = bpy.app.tempdir + "benchmark.png"
    bpy.ops.render.render(write_still=False)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        bpy.ops.render.render(write_still=False)
        times.append(time.perf_counter() - start)
    return times


def child_main(args: list[str]) -> None:
    device, threads, repeats = args[0], int(args[1]), int(args[2])
    scene = build(device, threads)
    times = timed_renders(scene, repeats)
    triangles = sum(len(o.data.polygons) for o in scene.objects if o.type == "MESH")
    print("BENCHMARK " + json.dumps({"times": times, "device": device, "threads": threads,
                                     "faces": triangles, "blender": bpy.app.version_string}), flush=True)
