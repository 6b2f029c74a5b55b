"""Read the features the estimate needs from a scene (bpy). The arithmetic is in addon/farm/estimate.py.

`read_scene` returns a plain dict (SceneStats.from_dict builds the typed stats) so this file also runs
as a child Blender's code (`child_main`, used by the headless `estimate` command on a .blend opened
with scripts off). Counts come from the evaluated depsgraph, so modifiers, geometry nodes, instancing
and particles are counted as rendered; content is sampled at a few frames across the range because an
animation's content can change.
"""

import json

import bpy

_WORKBENCH_SAMPLES = {"OFF": 1, "FXAA": 1, "5": 5, "8": 8, "11": 11, "16": 16, "32": 32}


def _samples(scene) -> int:
    engine = scene.render.engine
    if engine == "CYCLES":
        return scene.cycles.samples
    if engine == "BLENDER_WORKBENCH":
        return _WORKBENCH_SAMPLES.get(scene.display.render_aa, 8)
    return scene.eevee.taa_render_samples


def _has_volume(material) -> bool:
    tree = material.node_tree if material else None
    if tree is None:
        return False
    return any(n.type == "OUTPUT_MATERIAL" and n.inputs["Volume"].is_linked for n in tree.nodes)


def _frame_content(scene, depsgraph) -> dict:
    triangles = instances = lights = volumes = hair = particles = 0
    mesh_triangles = {}  # instances share evaluated meshes: count each once, multiply per instance
    for inst in depsgraph.object_instances:
        obj = inst.object
        if obj.type == "MESH":
            key = obj.data.as_pointer()
            if key not in mesh_triangles:
                mesh_triangles[key] = len(obj.data.loop_triangles)
                if any(_has_volume(slot.material) for slot in obj.material_slots):
                    volumes += 1
            triangles += mesh_triangles[key]
            instances += 1
            if not inst.is_instance:
                for psys in obj.particle_systems:
                    settings = psys.settings
                    if settings.type == "HAIR":
                        children = settings.rendered_child_count if settings.child_type != "NONE" else 0
                        hair += settings.count * (1 + children)
                    else:
                        particles += settings.count
        elif obj.type == "LIGHT":
            lights += 1
        elif obj.type == "VOLUME":
            volumes += 1
            instances += 1
        elif obj.type == "CURVES":
            hair += len(obj.data.curves)
            instances += 1
    world = scene.world
    if world and world.node_tree and any(n.type == "OUTPUT_WORLD" and n.inputs["Volume"].is_linked
                                         for n in world.node_tree.nodes):
        volumes += 1
    return {"frame": scene.frame_current, "triangles": triangles, "unique_triangles": sum(mesh_triangles.values()),
            "instances": instances, "lights": lights, "volumes": volumes, "hair_strands": hair}, particles


def _texture_bytes() -> int:
    total = 0
    for image in bpy.data.images:
        if image.users == 0 or image.type not in {"IMAGE", "MULTILAYER", "UV_TEST"}:
            continue
        width, height = image.size
        total += width * height * max(1, image.channels) * (4 if image.is_float else 1)
    return total


def sample_frames(start: int, end: int, count: int) -> list[int]:
    """`count` frames spread evenly over start..end, both ends included."""
    if end <= start or count <= 1:
        return [start]
    step = (end - start) / (count - 1)
    return sorted({round(start + i * step) for i in range(count)})


def read_scene(scene=None, *, frame_start=None, frame_end=None, samples_across_range: int = 3) -> dict:
    """The estimate's features of `scene` (default: the current one), content sampled at a few frames."""
    scene = scene or bpy.context.scene
    start = scene.frame_start if frame_start is None else frame_start
    end = scene.frame_end if frame_end is None else frame_end
    render, cycles = scene.render, scene.cycles
    original = scene.frame_current
    content, particles = [], 0
    try:
        for frame in sample_frames(start, end, samples_across_range):
            if frame != scene.frame_current or not content:
                scene.frame_set(frame)
            depsgraph = bpy.context.evaluated_depsgraph_get()
            frame_content, frame_particles = _frame_content(scene, depsgraph)
            content.append(frame_content)
            particles = max(particles, frame_particles)
    finally:
        if scene.frame_current != original:
            scene.frame_set(original)
    is_cycles = render.engine == "CYCLES"
    return {
        "engine": render.engine, "resolution_x": render.resolution_x, "resolution_y": render.resolution_y,
        "resolution_percentage": render.resolution_percentage, "samples": _samples(scene),
        "frame_start": start, "frame_end": end, "frame_step": scene.frame_step, "content": content,
        "adaptive_sampling": bool(is_cycles and cycles.use_adaptive_sampling),
        "adaptive_threshold": float(cycles.adaptive_threshold), "adaptive_min_samples": cycles.adaptive_min_samples,
        "max_bounces": cycles.max_bounces,
        "denoiser": cycles.denoiser if is_cycles and cycles.use_denoising else "",
        "motion_blur": bool(render.use_motion_blur), "texture_bytes": _texture_bytes(), "particles": particles,
        "has_camera": scene.camera is not None,
    }


def scene_stats(scene=None, **options):
    """Typed stats for the panel (only when imported as part of the add-on)."""
    from ..farm.estimate import SceneStats
    return SceneStats.from_dict(read_scene(scene, **options))


def child_main(args: list[str]) -> None:
    """ARGS: blend path, then optional 'A:B' frame range override ('' for the scene's own)."""
    scene = open_blend(args[0])  # noqa: F821 - defined by addon.farm.blender_process's prelude
    start = end = None
    if len(args) > 1 and args[1]:
        start, end = (int(x) for x in args[1].split(":", 1))
    print("STATS " + json.dumps(read_scene(scene, frame_start=start, frame_end=end)), flush=True)
