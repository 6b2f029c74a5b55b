"""Pre-flight problems: what is wrong with a scene for the farm, how bad, and how to fix it (bpy-free)."""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING = "error", "warning"  # an error blocks submission; a warning does not


@dataclass(frozen=True)
class Problem:
    kind: str  # missing, absolute, outside, cache, file_output, movie_output, unsaved, output_path, frame_range,
    #            engine, feature, computed, not_a_file, unreadable, blender_version, collision, odd_name, driver,
    #            addon_data
    severity: str
    path: str | None  # the file or path involved, None when there is none
    message: str  # what is wrong, which data-block, and what to do next
    datablock: str = ""  # the data-block involved ("Image 'wood'"), also named in the message

    def to_json(self) -> dict:
        return {"kind": self.kind, "severity": self.severity, "path": self.path, "message": self.message}


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)
