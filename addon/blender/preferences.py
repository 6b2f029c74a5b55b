"""Add-on preferences: which network, and the node, relay and contract on it. Never a key.

Empty URLs mean the network's default (shown greyed in the field). The wallet itself is in the
encrypted keystore file (see wallet.py); these preferences hold nothing secret.
"""

from urllib.parse import urlparse

import bpy

from .identity import ADDON_PACKAGE

LOCAL_DEPLOYER = "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM"  # the local chain's well-known deployer
DEFAULTS = {
    # network: (node URL, relay URL, contract id)
    "local": ("http://127.0.0.1:3999", "http://127.0.0.1:8780", f"{LOCAL_DEPLOYER}.render-farm"),
    "testnet": ("https://api.testnet.hiro.so", "", ""),
    "mainnet": ("https://api.mainnet.hiro.so", "", ""),
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
        node, relay, contract = endpoints(self)
        for field, value in (("node_url", node), ("relay_url", relay), ("contract_id", contract)):
            row = layout.row()
            row.prop(self, field, placeholder=value or "required")
        layout.label(text="The wallet is kept encrypted in the add-on's folder, which uninstalling deletes:",
                     icon="INFO")
        layout.label(text="write down its 24 words, or export the key file, before uninstalling.")
        layout.operator("render_farm.wallet_export", icon="EXPORT")


def endpoints(prefs) -> tuple[str, str, str]:
    """(node URL, relay URL, contract id) in force: each field, or the network's default."""
    node, relay, contract = DEFAULTS[prefs.network]
    return (prefs.node_url.strip() or node, prefs.relay_url.strip() or relay, prefs.contract_id.strip() or contract)


def is_local_only(prefs) -> bool:
    """Everything this network touches is on this machine (no internet)."""
    node, relay, _ = endpoints(prefs)
    return all(urlparse(url).hostname in LOOPBACK for url in (node, relay) if url)


def network_allowed(prefs) -> tuple[bool, str]:
    """May the add-on use the network now? Blender's Online Access governs anything off this machine."""
    if bpy.app.online_access or is_local_only(prefs):
        return True, ""
    return False, "Online access is off (Preferences > System > Network): the farm needs it for " \
                  f"{prefs.network}; the local chain works without it"


classes = (RENDERFARM_AP_preferences,)
