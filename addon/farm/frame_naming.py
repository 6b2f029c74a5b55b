"""Where Blender would have written a frame: its output-path rule, so downloaded frames land in the same place.

Blender replaces the last run of '#' in the file name with the zero-padded frame number (a run of
one '#' still pads to that width); with no '#' it appends the frame padded to four digits; then it
adds the format's extension when "File Extensions" is on. The '//' prefix (relative to the .blend)
is resolved by the caller, which knows the .blend's folder (bpy.path.abspath in Blender).
"""

from __future__ import annotations

import re
from pathlib import Path

_HASHES = re.compile(r"#+")

EXTENSIONS = {
    "PNG": ".png", "OPEN_EXR": ".exr", "OPEN_EXR_MULTILAYER": ".exr", "JPEG": ".jpg", "JPEG2000": ".jp2",
    "TIFF": ".tif", "BMP": ".bmp", "TARGA": ".tga", "TARGA_RAW": ".tga", "WEBP": ".webp", "HDR": ".hdr",
    "CINEON": ".cin", "DPX": ".dpx", "IRIS": ".rgb",
}


def extension_for(file_format: str) -> str:
    """The extension Blender gives an image format (".png" for PNG); ValueError for a movie or unknown one."""
    try:
        return EXTENSIONS[file_format]
    except KeyError:
        raise ValueError(f"{file_format!r} is not a still-image format a farm renders; use PNG or OPEN_EXR") from None


def frame_path(pattern: str, frame: int, extension: str = "", use_extension: bool = True) -> Path:
    """The file Blender writes for `frame` under output path `pattern` (already absolute)."""
    folder, _, name = pattern.replace("\\", "/").rpartition("/")
    runs = list(_HASHES.finditer(name))
    number = f"{frame:0{len(runs[-1].group()) if runs else 4}d}"
    if runs:
        last = runs[-1]
        name = name[: last.start()] + number + name[last.end():]
    else:
        name = name + number
    if use_extension and extension and not name.lower().endswith(extension.lower()):
        name += extension
    return Path(folder + "/" + name if folder else name)
