"""Add-on preferences: which network, and the node, relay and contract on it. Never a key.

Empty URLs mean the network's default (shown greyed in the field). The wallet itself is in the
encrypted keystore file (see wallet.py); these preferences hold nothing secret.
"""

import bpy

from ..farm.connection import DEFAULTS, Endpoints
from .identity import ADDON_PACKAGE


class RENDERFARM_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    network: bpy.props.EnumProperty(
        name="Network",
        items=[("local", "Local chain", "A chain on this machine (python -m server devnet), free test STX"),
               ("testnet", "Testnet", "Stacks testnet: test STX from a faucet, real providers"),
               ("mainnet", "Mainnet", "Stacks mainnet: real STX")],
        default="local")
    node_url: bpy.props.StringProperty(name="Node URL", description="Stacks API; empty for the network's default")
    relay_url: bpy.props.StringProperty(name="Relay URL", description="Relay carrying the encrypted files")
    contract_id: bpy.props.StringProperty(name="Contract", description="ADDRESS.render-farm; empty for the default")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "network")
        default = DEFAULTS[self.network]
        for field, value in zip(("node_url", "relay_url", "contract_id"), default, strict=True):
            row = layout.row()
            row.prop(self, field, placeholder=value or "required")
        layout.label(text="The wallet is kept encrypted in the add-on's folder, which uninstalling deletes:",
                     icon="INFO")
        layout.label(text="write down its 24 words, or export the key file, before uninstalling.")
        layout.operator("render_farm.wallet_export", icon="EXPORT")


def endpoints(prefs) -> Endpoints:
    """The node, relay and contract in force: each field, or the network's default."""
    return Endpoints.resolve(prefs.network, prefs.node_url, prefs.relay_url, prefs.contract_id)


def network_allowed(prefs) -> tuple[bool, str]:
    """May the add-on use the network now? Blender's Online Access governs anything off this machine."""
    if bpy.app.online_access or endpoints(prefs).local_only:
        return True, ""
    return False, "Online access is off (Preferences > System > Network): the farm needs it for " \
                  f"{prefs.network}; the local chain works without it"


classes = (RENDERFARM_AP_preferences,)
