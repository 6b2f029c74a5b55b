"""Farm operators: check the scene, submit, refresh the job list, approve / reject / cancel, download.

Reading the scene (pre-flight, the package plan) happens on the UI thread, since bpy data is not
thread-safe; copying, hashing, uploading and every chain step run on the worker (operators.run_task).
"""

import os

import bpy

from ..farm.manifest import FrameRange, RenderSettings
from ..farm.planning import Terms
from ..farm.problems import ERROR
from . import farm_tasks
from .identity import preferences, user_dir
from .operators import needs_network, run_task
from .preferences import endpoints
from .session import SESSION


def ready(cls, context) -> bool:
    if not SESSION.unlocked:
        cls.poll_message_set("Unlock the wallet first")
        return False
    return needs_network(cls, context)


def scene_plan(op, context):
    """Pre-flight the open scene into SESSION.problems; the package plan, or None when it has errors."""
    from .pack import plan

    settings = context.scene.render_farm
    planned = None
    if not bpy.data.filepath:
        SESSION.problems = ((ERROR, "The scene is not saved: save the .blend, then submit"),)
    else:
        planned = plan(frames=settings.frame_range(context.scene), in_session=True)
        SESSION.problems = tuple((p.severity, p.message) for p in planned.problems)
    errors = [message for severity, message in SESSION.problems if severity == ERROR]
    if errors:
        op.report({"ERROR"}, f"Pre-flight found {len(errors)} error(s): see the Render Farm panel for the fixes")
        return None
    return planned


def candidates_of(settings) -> list[str]:
    return [a.strip() for a in settings.pinned.split(",") if a.strip()]


def terms_of(context) -> Terms:
    """The artist's terms for the open scene, with the estimate's per-frame costs (read on the UI thread)."""
    from ..farm.estimate import scene_seconds
    from ..farm.planning import uniform_seconds
    from .scene_stats import scene_stats

    settings, scene = context.scene.render_farm, context.scene
    first, last = settings.frame_range(scene)
    frames = FrameRange(first, last)
    if settings.complexity_override:
        seconds, once = uniform_seconds(frames, settings.complexity_per_frame), 0.0
    else:
        seconds, _, once = scene_seconds(scene_stats(scene, frame_start=first, frame_end=last))
    return Terms(requester=SESSION.address or "", frames=frames, frame_seconds=tuple(seconds),
                 max_providers=settings.providers, chunk_size=settings.chunk_size,
                 reward=settings.reward_micro_stx(), max_cost=settings.max_cost_micro_stx(), once_seconds=once,
                 min_reputation=settings.min_reputation, pinned=tuple(candidates_of(settings)),
                 excluded=tuple(a.strip() for a in settings.excluded.split(",") if a.strip()))


def submission_args(context, planned) -> tuple:
    """The arguments of farm_tasks.submit for the open scene and its package plan (read on the UI thread)."""
    settings, scene = context.scene.render_farm, context.scene
    first, last = settings.frame_range(scene)
    candidates = candidates_of(settings)
    terms = terms_of(context)
    render = scene.render
    sent = RenderSettings(engine=render.engine, file_format=render.image_settings.file_format,
                          resolution_x=render.resolution_x, resolution_y=render.resolution_y,
                          resolution_percentage=render.resolution_percentage)
    name = f"{os.path.basename(bpy.data.filepath)} {first}-{last}"
    home = user_dir()
    package_dir = os.path.join(home, "packages", os.path.splitext(os.path.basename(bpy.data.filepath))[0])
    os.makedirs(os.path.dirname(package_dir), exist_ok=True)
    return (home, endpoints(preferences(context)), SESSION.private_key(), planned, package_dir,
            bpy.app.version_string, terms, candidates, sent, name, bpy.path.abspath(render.filepath))


class RENDERFARM_OT_check_scene(bpy.types.Operator):
    """Pre-flight the scene: list what would stop the farm from rendering it, and how to fix each"""
    bl_idname = "render_farm.check_scene"
    bl_label = "Check Scene"

    def execute(self, context):
        planned = scene_plan(self, context)
        if planned is None:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Ready to submit: {len(planned.files) + len(planned.libraries) + 1} files, "
                              f"{len(SESSION.problems)} warning(s)")
        return {"FINISHED"}


class RENDERFARM_OT_estimate(bpy.types.Operator):
    """Estimate the render time per frame from the scene's features; sets Seconds per Frame"""
    bl_idname = "render_farm.estimate"
    bl_label = "Estimate"

    def execute(self, context):
        import math

        from ..farm.estimate import EstimateError, estimate_scene
        from .scene_stats import scene_stats

        settings, scene = context.scene.render_farm, context.scene
        first, last = settings.frame_range(scene)
        try:
            estimate = estimate_scene(scene_stats(scene, frame_start=first, frame_end=last))
        except EstimateError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        per_frame = estimate.per_frame_reference_seconds
        settings.complexity_per_frame = max(1, math.ceil(per_frame))
        SESSION.estimate = (f"About {per_frame:.0f} s per frame on the reference machine ({estimate.source})",
                            f"{estimate.total_reference_seconds / 3600:.2f} reference-hours for frames {first}-{last}",
                            *estimate.notes)
        self.report({"INFO"}, SESSION.estimate[0])
        return {"FINISHED"}


class RENDERFARM_OT_submit(bpy.types.Operator):
    """Pack the scene (the .blend itself is only read), create its chunks on chain and upload it"""
    bl_idname = "render_farm.submit"
    bl_label = "Submit to Farm"

    @classmethod
    def poll(cls, context):
        return ready(cls, context)

    def execute(self, context):
        from ..farm.estimate import EstimateError

        planned = scene_plan(self, context)
        if planned is None:
            return {"CANCELLED"}
        try:
            args = submission_args(context, planned)
        except EstimateError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        return run_task(self, "Submitting", farm_tasks.submit, *args)


class RENDERFARM_OT_quote(bpy.types.Operator):
    """Plan the chunks against the providers on chain: the reward and cost the estimate implies (nothing is sent)"""
    bl_idname = "render_farm.quote"
    bl_label = "Quote Providers"

    @classmethod
    def poll(cls, context):
        return needs_network(cls, context)

    def execute(self, context):
        from ..farm.estimate import EstimateError

        try:
            terms = terms_of(context)
        except EstimateError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        return run_task(self, "Quoting the providers", farm_tasks.quote, endpoints(preferences(context)), terms,
                        candidates_of(context.scene.render_farm))


class RENDERFARM_OT_refresh_jobs(bpy.types.Operator):
    """Read every listed chunk's state from the chain and its progress from the relay"""
    bl_idname = "render_farm.refresh_jobs"
    bl_label = "Refresh Jobs"

    @classmethod
    def poll(cls, context):
        return ready(cls, context)

    def execute(self, context):
        return run_task(self, "Refreshing the jobs", farm_tasks.refresh, user_dir(), endpoints(preferences(context)),
                        SESSION.private_key())


class RENDERFARM_OT_resume(bpy.types.Operator):
    """Finish submits the relay cut short: store the chunks' manifests (and any file) the relay lacks"""
    bl_idname = "render_farm.resume"
    bl_label = "Resume"

    @classmethod
    def poll(cls, context):
        return ready(cls, context)

    def execute(self, context):
        return run_task(self, "Resuming", farm_tasks.resume, user_dir(), endpoints(preferences(context)),
                        SESSION.private_key())


class RENDERFARM_OT_job_action(bpy.types.Operator):
    """Approve, reject or cancel one chunk on chain"""
    bl_idname = "render_farm.job_action"
    bl_label = "Job Action"

    action: bpy.props.EnumProperty(items=[("approve", "Approve", "Pay the provider: the result is right"),
                                          ("reject", "Reject", "Refuse the result: it is wrong or incomplete"),
                                          ("cancel", "Cancel", "Cancel the chunk and get its escrow back"),
                                          ("reassign", "Reassign", "Give the chunk to the next allowed provider")])
    job_id: bpy.props.IntProperty(min=0)

    @classmethod
    def poll(cls, context):
        return ready(cls, context)

    @classmethod
    def description(cls, context, properties):
        return {"approve": "Approve: pay the provider, the frames unlock when it claims",
                "reject": "Reject the result: wrong or incomplete frames",
                "cancel": "Cancel the chunk: its escrow returns to the wallet",
                "reassign": "Give the chunk to the next allowed provider (its manifest sealed anew for it)"
                }[properties.action]

    def execute(self, context):
        return run_task(self, f"{self.action.title()} job {self.job_id}", farm_tasks.decide, user_dir(),
                        endpoints(preferences(context)), SESSION.private_key(), self.action, self.job_id)


class RENDERFARM_OT_download(bpy.types.Operator):
    """Download, decrypt and verify the chunk's frames into the scene's output path"""
    bl_idname = "render_farm.download"
    bl_label = "Download"

    job_id: bpy.props.IntProperty(min=0)

    @classmethod
    def poll(cls, context):
        return ready(cls, context)

    def execute(self, context):
        return run_task(self, f"Downloading job {self.job_id}", farm_tasks.download, user_dir(),
                        endpoints(preferences(context)), SESSION.private_key(), self.job_id)


classes = (RENDERFARM_OT_check_scene, RENDERFARM_OT_estimate, RENDERFARM_OT_quote, RENDERFARM_OT_submit,
           RENDERFARM_OT_refresh_jobs, RENDERFARM_OT_resume, RENDERFARM_OT_job_action, RENDERFARM_OT_download)
