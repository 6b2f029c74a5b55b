"""Who the add-on is and where it keeps its files, from `__package__` (never a hard-coded name).

Installed as an extension the package is `bl_ext.<repo>.render_farm_stacks` and its files live in
`bpy.utils.extension_path_user(package)`; run from the repository (tests, `python -m addon`) it is
`addon`, and the files live where addon/farm/paths.py says ($RENDER_FARM_HOME, …). $RENDER_FARM_HOME
wins in both cases.
"""

import os
from pathlib import Path

import bpy

from ..farm.paths import HOME_ENV, standalone_home

ADDON_PACKAGE = __package__.rpartition(".")[0]  # the add-on itself, parent of this `blender` package


def user_dir() -> Path:
    """The add-on's own folder for the wallet, the job list and the transaction journal (created on use)."""
    if ADDON_PACKAGE.startswith("bl_ext.") and not os.environ.get(HOME_ENV):
        folder = Path(bpy.utils.extension_path_user(ADDON_PACKAGE, create=True))
    else:
        folder = standalone_home()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def preferences(context=None):
    """This add-on's AddonPreferences (network, node, relay, contract)."""
    context = context or bpy.context
    return context.preferences.addons[ADDON_PACKAGE].preferences
