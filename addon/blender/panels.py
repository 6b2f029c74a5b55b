"""The Render Farm panel, in the 3D Viewport sidebar and in Output Properties.

draw() reads only the in-memory session and the scene's settings (no network, no disk) and switches
on one status: OFFLINE, NO_WALLET, LOCKED, BUSY, READY.
"""

import textwrap

import bpy

from . import previews
from . import session as s
from .identity import preferences
from .preferences import network_allowed
from .session import SESSION

# The contract's job states (JobStatus names, lower case) and "downloaded" once the frames are on disk.
STATE_ICONS = {"pending": "TIME", "in_progress": "RENDER_ANIMATION", "submitted": "HIDE_OFF", "approved": "CHECKMARK",
               "completed": "CHECKMARK", "downloaded": "FILE_TICK", "rejected": "X", "cancelled": "CANCEL",
               "expired": "ERROR", "declined": "CANCEL"}


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def stx(micro: int | None) -> str:
    return "…" if micro is None else f"{micro / 1_000_000:,.6f}".rstrip("0").rstrip(".") + " STX"


def draw_farm(layout, context) -> None:
    prefs = preferences(context)
    allowed, why = network_allowed(prefs)
    status = SESSION.status(allowed)
    header = layout.row()
    header.label(text=f"Network: {prefs.network}", icon="WORLD")
    if SESSION.backup_words:
        draw_backup(layout.box())
    if status == s.OFFLINE:
        box = layout.box()
        box.label(text="Online access is off", icon="INTERNET_OFFLINE")
        box.label(text=why)
        box.label(text="Turn it on in Preferences > System, or use the local chain.")
    elif status == s.NO_WALLET:
        box = layout.box()
        box.label(text="No wallet yet" if SESSION.wallet_checked else "Looking for the wallet…", icon="LOCKED")
        row = box.row()
        row.operator("render_farm.wallet_create", icon="ADD")
        row.operator("render_farm.wallet_import", icon="IMPORT")
    elif status == s.LOCKED:
        box = layout.box()
        box.label(text=f"Wallet {short(SESSION.address)} (locked)", icon="LOCKED")
        box.operator("render_farm.wallet_unlock", icon="UNLOCKED")
    else:
        draw_wallet(layout.box(), prefs)
        draw_settings(layout.box(), context.scene)
        if SESSION.problems:
            draw_problems(layout.box())
        row = layout.row(align=True)
        row.operator("render_farm.check_scene", icon="VIEWZOOM")
        row.operator("render_farm.submit", icon="RENDER_ANIMATION")
        if status == s.BUSY:
            draw_task(layout.box())
    if SESSION.jobs:
        draw_jobs(layout, actions=status in (s.READY, s.BUSY))
    if SESSION.pending:
        draw_pending(layout.box())
    if SESSION.last_error:
        box = layout.box()
        box.label(text="Last error", icon="ERROR")
        for line in wrap(SESSION.last_error):
            box.label(text=line)


def draw_backup(box) -> None:
    box.label(text="Write down these 24 words: they restore the wallet", icon="ERROR")
    words = SESSION.backup_words.split()
    for start in range(0, len(words), 6):
        box.label(text="  ".join(f"{start + i + 1}. {w}" for i, w in enumerate(words[start:start + 6])))
    box.operator("render_farm.wallet_backup_done", icon="CHECKMARK")


def draw_wallet(box, prefs) -> None:
    row = box.row()
    row.label(text=short(SESSION.address), icon="UNLOCKED")
    row.label(text=stx(SESSION.balance))
    row = box.row(align=True)
    row.operator("render_farm.wallet_refresh", text="", icon="FILE_REFRESH")
    if prefs.network == "local":
        row.operator("render_farm.faucet", icon="IMPORT")
    row.operator("render_farm.wallet_lock", text="", icon="LOCKED")


def draw_settings(box, scene) -> None:
    settings = scene.render_farm
    box.prop(settings, "use_scene_range")
    row = box.row(align=True)
    if settings.use_scene_range:
        row.label(text=f"Frames {scene.frame_start}–{scene.frame_end}")
    else:
        row.prop(settings, "frame_start")
        row.prop(settings, "frame_end")
    box.prop(settings, "chunk_size")
    box.label(text=f"{settings.chunk_count(scene)} chunk(s)")
    box.prop(settings, "providers")
    box.prop(settings, "min_reputation")
    row = box.row(align=True)
    row.prop(settings, "complexity_override", text="")
    sub = row.row(align=True)
    sub.enabled = settings.complexity_override
    sub.prop(settings, "complexity_per_frame")
    row.operator("render_farm.estimate", text="", icon="TIME")
    for line in SESSION.estimate:
        box.label(text=line)
    row = box.row(align=True)
    row.prop(settings, "reward_stx")
    row.operator("render_farm.quote", text="", icon="FUND")
    box.prop(settings, "max_cost_stx")
    if settings.reward_micro_stx() is None:
        box.label(text="Reward 0: each chunk pays its provider's price for the estimate", icon="INFO")
    for line in SESSION.quote:  # what the planner made of the chain's providers (Quote, or the last Submit)
        box.label(text=line)
    col = box.column(align=True)
    col.prop(settings, "pinned")
    col.prop(settings, "excluded")


def draw_task(box) -> None:
    done, total = SESSION.progress
    box.label(text=SESSION.task, icon="SORTTIME")
    box.progress(factor=done / total if total else 0.0, type="BAR", text=SESSION.progress_text or SESSION.task)


def draw_problems(box) -> None:
    box.label(text="Pre-flight", icon="CHECKMARK" if not any(sev == "error" for sev, _ in SESSION.problems)
              else "ERROR")
    for severity, message in SESSION.problems:
        lines = wrap(message)
        box.label(text=lines[0] if lines else "", icon="CANCEL" if severity == "error" else "INFO")
        for line in lines[1:]:
            box.label(text=f"    {line}")


def draw_jobs(layout, actions: bool) -> None:
    row = layout.row()
    row.label(text="Jobs", icon="RENDERLAYERS")
    if actions:
        row.operator("render_farm.refresh_jobs", text="", icon="FILE_REFRESH")
    for job in SESSION.jobs:
        box = layout.box()
        box.label(text=job.name, icon="SCENE_DATA")
        if job.unsent:
            box.label(text="The relay did not store every chunk's scene: its provider cannot start", icon="ERROR")
            if actions:
                box.operator("render_farm.resume", icon="FILE_REFRESH")
        for chunk in job.chunks:
            row = box.row()
            row.label(text=f"#{chunk.job_id} frames {chunk.frames[0]}–{chunk.frames[1]}",
                      icon=STATE_ICONS.get(chunk.state, "DOT"))
            row.label(text=short(chunk.provider))
            row.progress(factor=chunk.progress, type="BAR", text=chunk.state)
            if actions:
                draw_chunk_actions(box, chunk)
        if job.downloaded_to:
            box.label(text=f"Frames in {job.downloaded_to}", icon="FILE_FOLDER")


def draw_chunk_actions(box, chunk) -> None:
    if chunk.preview_paths:
        grid = box.grid_flow(columns=4, even_columns=True)
        for path in chunk.preview_paths:
            icon = previews.icon_id(path)
            if icon:
                grid.template_icon(icon_value=icon, scale=4.0)
    row = box.row(align=True)
    if chunk.state == "submitted":
        for action, icon in (("approve", "CHECKMARK"), ("reject", "X")):
            op = row.operator("render_farm.job_action", text=action.title(), icon=icon)
            op.action, op.job_id = action, chunk.job_id
    elif chunk.state == "completed":
        row.operator("render_farm.download", icon="IMPORT").job_id = chunk.job_id
    elif chunk.state in ("pending", "rejected", "declined"):
        if chunk.state != "pending":
            op = row.operator("render_farm.job_action", text="Reassign", icon="USER")
            op.action, op.job_id = "reassign", chunk.job_id
        op = row.operator("render_farm.job_action", text="Cancel", icon="CANCEL")
        op.action, op.job_id = "cancel", chunk.job_id


def draw_pending(box) -> None:
    box.label(text="Transactions waiting for a block", icon="TIME")
    for tx in SESSION.pending:
        box.label(text=f"{tx.function} (nonce {tx.nonce}) {tx.txid[:10]}… {tx.status}, {tx.age_s:.0f} s")


def wrap(text: str, width: int = 60) -> list[str]:
    return textwrap.wrap(text, width)


class FarmPanel:
    """What both placements share: the label and the one draw function."""

    bl_label = "Render Farm"

    def draw(self, context):
        draw_farm(self.layout, context)


class RENDERFARM_PT_sidebar(FarmPanel, bpy.types.Panel):
    bl_idname = "RENDERFARM_PT_sidebar"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Render Farm"


class RENDERFARM_PT_output(FarmPanel, bpy.types.Panel):
    bl_idname = "RENDERFARM_PT_output"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "output"
    bl_options = {"DEFAULT_CLOSED"}


classes = (RENDERFARM_PT_sidebar, RENDERFARM_PT_output)
