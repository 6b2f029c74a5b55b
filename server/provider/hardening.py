"""What in a scene can act on the machine despite disabled scripts, and switching it off.

Opening a .blend with auto-execution off and `use_scripts=False` stops text blocks, handlers and
driver expressions, but not: Python style modules of Freestyle in script mode, OSL script nodes
(compiled at render time; `texture()` reads any image path), compositor File Output nodes (write
anywhere) or geometry-node Import nodes (read any file, also through paths computed in the tree).
The sandbox contains the reads and writes; this module additionally removes the first three before
a frame is rendered and tells the agent what it removed, so it can log it or decline the job.

`SCAN` runs inside the sandboxed Blender process (it is source text, not imported by the agent).
"""

from dataclasses import dataclass, fields

SCAN = r'''
def scan_scene(bpy, fix, job_root):
    """What could act outside Blender; with fix, remove what can run code or write files."""
    import os
    risks = {"freestyle_scripts": [], "osl": [], "file_outputs": [], "file_imports": [], "scripts": [],
             "outside_paths": []}
    for scene in bpy.data.scenes:
        for layer in scene.view_layers:
            settings = layer.freestyle_settings
            modules = [m for m in settings.modules if m.script]
            if settings.mode == "SCRIPT" or modules:
                names = ", ".join(m.script.name for m in modules) or "none"
                risks["freestyle_scripts"].append(f"Freestyle Python style modules ({names}) on view layer "
                                                  f"{layer.name!r} of scene {scene.name!r}")
                if fix:  # scripts removed, not just the mode switched: the mode could be animated back
                    for module in modules:
                        module.script = None
                    settings.mode = "EDITOR"
                    layer.use_freestyle = False
        cycles = getattr(scene, "cycles", None)
        if cycles is not None and cycles.shading_system:
            risks["osl"].append(f"Open Shading Language switched on in scene {scene.name!r}")
            if fix:
                cycles.shading_system = False
    trees = [(f"material {m.name!r}", m.node_tree) for m in bpy.data.materials if m.node_tree]
    trees += [(f"world {w.name!r}", w.node_tree) for w in bpy.data.worlds if w.node_tree]
    trees += [(f"light {x.name!r}", x.node_tree) for x in bpy.data.lights if x.node_tree]
    trees += [(f"line style {x.name!r}", x.node_tree) for x in bpy.data.linestyles if x.node_tree]
    trees += [(f"scene {s.name!r}", s.node_tree) for s in bpy.data.scenes if getattr(s, "node_tree", None)]
    trees += [(f"node group {g.name!r}", g) for g in bpy.data.node_groups]
    for owner, tree in trees:
        for node in list(tree.nodes):
            kind = node.bl_idname
            if kind == "ShaderNodeScript":
                source = node.script.name if node.mode == "INTERNAL" and node.script else node.filepath
                risks["osl"].append(f"OSL script node {node.name!r} ({source or 'stored bytecode'}) in {owner}")
                if fix:
                    tree.nodes.remove(node)
            elif kind == "CompositorNodeOutputFile":
                target = os.path.join(getattr(node, "directory", "") or getattr(node, "base_path", ""),
                                      getattr(node, "file_name", ""))
                risks["file_outputs"].append(f"compositor File Output node {node.name!r} writing to "
                                             f"{target!r} in {owner}")
                if fix:
                    tree.nodes.remove(node)
            elif kind.startswith("GeometryNodeImport"):
                path = node.inputs.get("Path")
                where = ("a path computed in the node tree" if path is None or path.is_linked
                         else repr(path.default_value))
                risks["file_imports"].append(f"{node.bl_label} node {node.name!r} reading {where} in {owner}")
    for text in bpy.data.texts:
        risks["scripts"].append(f"text block {text.name!r}" + (" registered to run on load" if text.use_module else ""))
    for collection in (bpy.data.objects, bpy.data.scenes, bpy.data.materials, bpy.data.node_groups,
                       bpy.data.shape_keys, bpy.data.worlds, bpy.data.cameras, bpy.data.lights):
        for block in collection:
            anim = getattr(block, "animation_data", None)
            for curve in (anim.drivers if anim else ()):
                if curve.driver.type == "SCRIPTED":
                    risks["scripts"].append(f"driver expression {curve.driver.expression!r} on {block.name!r}")
    root = os.path.realpath(job_root)
    for path in bpy.utils.blend_paths(absolute=True):
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) != root:
            risks["outside_paths"].append(path)
    return risks
'''


@dataclass(frozen=True)
class SceneRisks:
    """Each field lists findings in words. The first three are switched off before rendering (they can
    run code or write files); file imports are left alone (the sandbox shows them only the job's
    files); scripts never run (auto-execution off, `use_scripts=False`); outside paths are files the
    scene refers to that are not part of the job, so the sandbox will not show them."""

    freestyle_scripts: tuple[str, ...] = ()
    osl: tuple[str, ...] = ()
    file_outputs: tuple[str, ...] = ()
    file_imports: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    outside_paths: tuple[str, ...] = ()

    @classmethod
    def from_child(cls, data: dict) -> "SceneRisks":
        return cls(**{f.name: tuple(data.get(f.name, ())) for f in fields(cls)})

    @property
    def switched_off(self) -> tuple[str, ...]:
        """What the renderer removes, so the frames may differ from the artist's own render."""
        return self.freestyle_scripts + self.osl + self.file_outputs

    def reasons(self) -> list[str]:
        """Why an agent that wants the artist's exact result would decline this scene."""
        out = [f"needs a feature the provider switches off for safety: {x}" for x in self.switched_off]
        out += [f"refers to a file outside the job, which the render cannot see: {x}" for x in self.outside_paths]
        return out
