"""Where the requester's files live (wallet, job list, transaction journal) outside an installed extension.

Installed in Blender, the add-on keeps them in `bpy.utils.extension_path_user(__package__)`
(addon/blender/identity.py); run from the repository or as `python -m addon`, in $RENDER_FARM_HOME,
else $XDG_DATA_HOME/render-farm, else ~/.local/share/render-farm.
"""

import os
from pathlib import Path

HOME_ENV = "RENDER_FARM_HOME"


def standalone_home() -> Path:
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "render-farm"
