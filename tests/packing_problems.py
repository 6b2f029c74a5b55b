"""One small scene per pre-flight problem kind, each run through the pre-flight (bpy wheel, own process).

  python tests/packing_problems.py DIR OUT.json    writes {case: [problem, …]} for every case below
"""

from __future__ import annotations

import json
import os
import re
import sys

import bpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from packing_corpus import (  # noqa: E402
    add_bake,
    emission_material,
    new_scene,
    quad,
    save,
    simulation_modifier,
    write_png,
)

from addon.blender.pack import open_blend, plan  # noqa: E402
from addon.farm.package import package_path  # noqa: E402


def textured(d, raw, name="T"):
    image = bpy.data.images.new(name, 4, 4)
    image.source = "FILE"
    image.filepath = raw
    mat, _ = emission_material(name, image)
    quad(name, mat, (0, 0, 0))


def emitter(bake: bool):
    ob = quad("Emitter", None, (0, 0, 0), size=1.0)
    psys = ob.modifiers.new("Particles", "PARTICLE_SYSTEM").particle_system
    psys.settings.count = 5
    cache = psys.point_cache
    cache.frame_end = 4
    if bake:
        with bpy.context.temp_override(scene=bpy.context.scene, active_object=ob, object=ob, point_cache=cache):
            bpy.ops.ptcache.bake(bake=True)


class TestEngine(bpy.types.RenderEngine):
    bl_idname = "FARM_TEST_ENGINE"
    bl_label = "Third-party engine"


def case_clean(d):
    write_png(f"{d}/tex/a.png", (1, 0, 0))
    textured(d, "//tex/a.png")


def case_missing(d):
    textured(d, "//tex/gone.png")


def case_absolute(d):
    write_png(f"{d}/tex/a.png", (1, 0, 0))
    textured(d, f"{d}/tex/a.png")


def case_outside(d):
    write_png(f"{d}/../outside-assets/a.png", (1, 0, 0))
    textured(d, "//../outside-assets/a.png")


def case_cache_unbaked(d):
    emitter(bake=False)


def case_cache_memory(d):
    emitter(bake=True)


def case_simulation_unbaked(d):
    if not hasattr(bpy.types, "GeometryNodeSimulationOutput"):
        return "skip"
    simulation_modifier(quad("Sim", None, (0, 0, 0)), "Sim")


def case_fluid_unbaked(d):
    ob = quad("Domain", None, (0, 0, 0))
    mod = ob.modifiers.new("Fluid", "FLUID")
    mod.fluid_type = "DOMAIN"


def case_movie_output(d):
    settings = bpy.context.scene.render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"


def case_file_output(d):
    scene = bpy.context.scene
    if hasattr(scene, "compositing_node_group"):
        tree = bpy.data.node_groups.new("Comp", "CompositorNodeTree")
        scene.compositing_node_group = tree
    else:
        scene.use_nodes = True
        tree = scene.node_tree
    node = tree.nodes.new("CompositorNodeOutputFile")
    if hasattr(node, "directory"):
        node.directory = "//passes/"
    else:
        node.base_path = "//passes/"


def case_output_path(d):
    bpy.context.scene.render.filepath = "/tmp/render/out"


def case_frame_range(d):
    return {"frames": (5, 4)}


def case_engine(d):
    bpy.utils.register_class(TestEngine)
    bpy.context.scene.render.engine = "FARM_TEST_ENGINE"


def case_feature(d):
    bpy.context.scene.cycles.shading_system = True


def case_computed(d):
    if not hasattr(bpy.types, "GeometryNodeImportOBJ"):
        return "skip"
    ob = bpy.data.objects.new("Imported", bpy.data.meshes.new("Holder"))
    bpy.context.scene.collection.objects.link(ob)
    group = bpy.data.node_groups.new("ImportComputed", "GeometryNodeTree")
    group.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    out, imp = group.nodes.new("NodeGroupOutput"), group.nodes.new("GeometryNodeImportOBJ")
    text = group.nodes.new("FunctionNodeInputString")
    text.string = "//models/computed.obj"
    group.links.new(text.outputs[0], imp.inputs["Path"])
    group.links.new(imp.outputs[0], out.inputs[0])
    ob.modifiers.new("Import", "NODES").node_group = group


def case_unsaved(d):
    # Never saved. (Unsaved changes to a saved file are only visible to a UI session: background Blender marks
    # every file it opens dirty.)
    return {"unsaved": True, "in_session": True}


def case_not_a_file(d):
    os.makedirs(f"{d}/tex/folder.png")
    textured(d, "//tex/folder.png")


def case_fifo(d):
    os.makedirs(f"{d}/tex")
    os.mkfifo(f"{d}/tex/pipe.png")
    textured(d, "//tex/pipe.png")


def case_odd_name(d):
    # Blender turns a backslash in its own paths into a separator, but a baked folder ships whatever it holds.
    if not hasattr(bpy.types, "GeometryNodeSimulationOutput"):
        return "skip"
    save(os.path.join(d, "scene.blend"))
    add_bake(d, (0, 0, 0))
    folder = os.path.join(d, "bakes", "slide", os.listdir(os.path.join(d, "bakes", "slide"))[0])
    with open(os.path.join(folder, "note\\for windows.txt"), "w") as f:  # a legal name on Linux only
        f.write("x")


def case_collision(d):
    # A texture outside the project goes to _external/<12 hex of its folder>/a.png; a file the project already
    # holds at that very path would be overwritten by it.
    outside = os.path.normpath(f"{d}/../collide-assets")
    write_png(f"{outside}/a.png", (1, 0, 0))
    taken = package_path(f"{outside}/a.png", d)
    write_png(f"{d}/{taken}", (0, 1, 0))
    textured(d, f"//{taken}", name="A")
    textured(d, "//../collide-assets/a.png", name="B")


def _saved_by(d, major: int, minor: int):
    """Save, then make the header say another Blender wrote the file (BLENDER-v402 before 5.0, BLENDER17-01v0500
    since), and open it again: Blender reads the header's version, and warns, but opens it."""
    path = os.path.join(d, "scene.blend")
    save(path)
    with open(path, "r+b") as f:
        match = re.search(rb"[vV](\d{3,4})", f.read(32))
        f.seek(match.start(1))
        f.write(str(major * 100 + minor).zfill(len(match.group(1))).encode())
    open_blend(path)
    return {"saved": True}


def case_newer_blender(d):
    return _saved_by(d, bpy.app.version[0] + 1, 0)


def case_older_blender(d):
    return _saved_by(d, 4, 1)


def _driven(expression: str):
    ob = bpy.data.objects.new("Driven", None)
    bpy.context.scene.collection.objects.link(ob)
    curve = ob.driver_add("location", 0)
    curve.driver.type = "SCRIPTED"
    var = curve.driver.variables.new()
    var.name, var.type = "t", "SINGLE_PROP"
    var.targets[0].id_type, var.targets[0].id, var.targets[0].data_path = "SCENE", bpy.context.scene, "frame_current"
    curve.driver.expression = expression


def case_driver(d):
    _driven("__import__('math').floor(t / 2)")  # needs Python


def case_driver_simple(d):
    _driven("sin(t) * 2 + frame")  # Blender evaluates this without Python: nothing to report


def case_driver_in_node_tree(d):
    mat, _ = emission_material("Pulse", color=(1, 1, 1, 1))
    quad("Pulse", mat, (0, 0, 0))
    emit = next(n for n in mat.node_tree.nodes if n.type == "EMISSION")
    curve = emit.inputs["Strength"].driver_add("default_value")
    curve.driver.expression = "bpy.context.scene.frame_current / 10"


class FarmAddonNode(bpy.types.Node):
    bl_idname = "FarmAddonNode"
    bl_label = "Add-on node"

    @classmethod
    def poll(cls, tree):
        return True


class FarmAddonGroup(bpy.types.ShaderNodeCustomGroup):
    bl_idname = "FarmAddonGroup"
    bl_label = "Add-on group"


def _addon_nodes():
    bpy.utils.register_class(FarmAddonNode)
    bpy.utils.register_class(FarmAddonGroup)
    mat, _ = emission_material("Custom", color=(1, 1, 1, 1))
    mat.node_tree.nodes.new("FarmAddonGroup")
    quad("Custom", mat, (0, 0, 0))
    unused, _ = emission_material("UnusedCustom")
    unused.node_tree.nodes.new("FarmAddonNode")  # no object uses it: not reported
    unused.use_fake_user = True


def case_addon_node_missing(d):
    # The add-on was there when the file was saved and is not now: the node opens as a NodeUndefined.
    _addon_nodes()
    save(os.path.join(d, "scene.blend"))
    bpy.utils.unregister_class(FarmAddonNode)
    bpy.utils.unregister_class(FarmAddonGroup)
    open_blend(os.path.join(d, "scene.blend"))
    return {"saved": True}


def case_addon_node_installed(d):
    # The artist's session has the add-on (the panel packs the open scene): its node is still not on providers.
    _addon_nodes()
    return {"cleanup": _drop_addon_nodes}


def _drop_addon_nodes():
    # The nodes go before their classes: Blender 4.2 crashes freeing a node whose type was unregistered.
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.utils.unregister_class(FarmAddonNode)
    bpy.utils.unregister_class(FarmAddonGroup)


def case_freestyle_script(d):
    scene = bpy.context.scene
    scene.render.use_freestyle = True
    settings = scene.view_layers[0].freestyle_settings
    settings.mode = "SCRIPT"
    settings.modules.new().script = bpy.data.texts.new("style.py")


def case_text_module(d):
    text = bpy.data.texts.new("setup.py")
    text.write("import bpy\nbpy.app.driver_namespace['wobble'] = lambda t: t % 3\n")
    text.use_module = True


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main(root: str, out: str) -> None:
    report = {}
    for name, build in CASES.items():
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        new_scene()
        options = build(d) or {}
        if options == "skip":
            report[name] = None  # this Blender has not got the feature
            continue
        if not options.get("unsaved") and not options.get("saved"):
            save(os.path.join(d, "scene.blend"))
        problems = plan(frames=options.get("frames"), in_session=options.get("in_session", False)).problems
        report[name] = [p.to_json() for p in problems]
        if "cleanup" in options:
            options["cleanup"]()
        if name == "engine":
            bpy.context.scene.render.engine = "CYCLES"
            bpy.utils.unregister_class(TestEngine)
    with open(out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]), sys.argv[2])
