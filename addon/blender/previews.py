"""Preview thumbnails of submitted results, loaded into a bpy.utils.previews collection.

`sync` loads new preview files and runs in the timer (UI thread, outside draw()); draw() only asks
`icon_id` for an already loaded one, so drawing never reads the disk.
"""

import bpy.utils.previews

_collection = None


def sync(jobs) -> None:
    global _collection
    if _collection is None:
        _collection = bpy.utils.previews.new()
    for job in jobs:
        for chunk in job.chunks:
            for path in chunk.preview_paths:
                if path not in _collection:
                    preview = _collection.load(path, path, "IMAGE")
                    # Asking for the icon and its pixels makes Blender read the file now, in the timer,
                    # rather than lazily inside the first draw() that shows it.
                    _ = preview.icon_id, preview.image_size[:]


def icon_id(path: str) -> int:
    if _collection is None or path not in _collection:
        return 0
    return _collection[path].icon_id


def clear() -> None:
    global _collection
    if _collection is not None:
        bpy.utils.previews.remove(_collection)
        _collection = None
