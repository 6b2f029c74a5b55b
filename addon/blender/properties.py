"""What the artist chooses per scene (saved in the .blend): frames, chunking, providers, reward.

Nothing secret and nothing about the wallet lives here.
"""

import bpy


class RenderFarmSceneSettings(bpy.types.PropertyGroup):
    use_scene_range: bpy.props.BoolProperty(name="Scene Frame Range", default=True,
                                            description="Render the scene's frame range")
    frame_start: bpy.props.IntProperty(name="Start", default=1, min=0)
    frame_end: bpy.props.IntProperty(name="End", default=24, min=0)
    chunk_size: bpy.props.IntProperty(name="Chunk Size", default=12, min=1, soft_max=500,
                                      description="Frames per chunk; each chunk is one job for one provider")
    providers: bpy.props.IntProperty(name="Providers", default=2, min=1, soft_max=64,
                                     description="At most this many providers render the chunks")
    min_reputation: bpy.props.IntProperty(name="Min Reputation", default=0, min=0, max=100,
                                          description="Only providers with at least this reputation")
    reward_stx: bpy.props.FloatProperty(name="Reward (STX)", default=0.0, min=0.0, precision=6,
                                        description="Total STX escrowed for the whole job, split over its chunks by "
                                                    "frames; 0: each chunk pays its provider's price for the "
                                                    "estimate (the least the contract accepts)")
    max_cost_stx: bpy.props.FloatProperty(name="Max Cost (STX)", default=0.0, min=0.0, precision=6,
                                          description="Refuse to submit a plan that costs more; 0: no limit")
    complexity_override: bpy.props.BoolProperty(name="Override the Estimate", default=False,
                                                description="Use Seconds per Frame for every frame instead of the "
                                                            "estimate's per-frame costs")
    complexity_per_frame: bpy.props.IntProperty(name="Seconds per Frame", default=60, min=1,
                                                description="Render time of one frame on the reference machine "
                                                            "(what the estimate gives)")
    pinned: bpy.props.StringProperty(name="Providers", description="Provider addresses to consider only, "
                                     "comma-separated; empty: every provider on chain")
    excluded: bpy.props.StringProperty(name="Exclude", description="Provider addresses never to use")

    def frame_range(self, scene) -> tuple[int, int]:
        return (scene.frame_start, scene.frame_end) if self.use_scene_range else (self.frame_start, self.frame_end)

    def chunk_count(self, scene) -> int:
        start, end = self.frame_range(scene)
        return max(0, -(-(end - start + 1) // self.chunk_size))

    def reward_micro_stx(self) -> int | None:
        """The lump reward, or None: each chunk at its provider's price."""
        return round(self.reward_stx * 1_000_000) or None

    def max_cost_micro_stx(self) -> int | None:
        return round(self.max_cost_stx * 1_000_000) or None


classes = (RenderFarmSceneSettings,)


def register() -> None:
    bpy.types.Scene.render_farm = bpy.props.PointerProperty(type=RenderFarmSceneSettings)


def unregister() -> None:
    del bpy.types.Scene.render_farm
