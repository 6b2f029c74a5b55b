"""Who the add-on is and where it keeps its files, from `__package__` (never a hard-coded name).

Installed as an extension the package is `bl_ext.<repo>.render_farm_stacks` and its files live in
`bpy.utils.extension_path_user(package)`; run from the repository (tests, `python -m addon`) it is
`addon`, and the files live in $RENDER_FARM_HOME or Blender's user extensions folder.
"""

import os
from pathlib import Path

import bpy

ADDON_PACKAGE = __package__.rpartition(".")[0]  # the add-on itself, parent of this `blender` package
HOME_ENV = "RENDER_FARM_HOME"


def user_dir() -> Path:
    """The add-on's own folder for the wallet, the job list and the transaction journal (created on use)."""
    if os.environ.get(HOME_ENV):
        folder = Path(os.environ[HOME_ENV])
    elif ADDON_PACKAGE.startswith("bl_ext."):
        folder = Path(bpy.utils.extension_path_user(ADDON_PACKAGE, create=True))
    else:
        folder = Path(bpy.utils.user_resource("EXTENSIONS", path=os.path.join(".user", "dev", "render_farm_stacks")))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def preferences(context=None):
    """This add-on's AddonPreferences (network, node, relay, contract)."""
    context = context or bpy.context
    return context.preferences.addons[ADDON_PACKAGE].preferences
