"""A recording stand-in for bpy.types.UILayout: the bpy module has no window, so panels draw into this.

Every call is checked against Blender's own RNA description of UILayout (argument names, icon names),
`prop` against the data's RNA properties and `operator` against the registered operators, so a typo
that would break the real panel breaks the test. Import only where bpy is importable.
"""

import bpy

_FUNCTIONS = bpy.types.UILayout.bl_rna.functions
_ICONS = {item.identifier for item in _FUNCTIONS["label"].parameters["icon"].enum_items}
_CONTAINERS = ("row", "column", "box", "split", "column_flow", "grid_flow")


def _operator_exists(idname: str) -> bool:
    module, _, name = idname.partition(".")
    try:
        getattr(getattr(bpy.ops, module), name).get_rna_type()
    except (AttributeError, KeyError):
        return False
    return True


class RecordingLayout:
    def __init__(self, kind: str = "layout", calls: list | None = None, depth: int = 0):
        self.kind, self.calls, self.depth = kind, calls if calls is not None else [], depth
        self.enabled = self.active = True
        self.alert = False
        self.use_property_split = self.use_property_decorate = False

    def __getattr__(self, name):
        if name not in _FUNCTIONS:
            raise AttributeError(f"UILayout has no {name}()")
        allowed = set(_FUNCTIONS[name].parameters.keys())

        def call(*args, **kwargs):
            unknown = set(kwargs) - allowed
            if unknown:
                raise TypeError(f"UILayout.{name}() got unknown arguments {sorted(unknown)}")
            icon = kwargs.get("icon")
            if icon is not None and icon not in _ICONS:
                raise ValueError(f"UILayout.{name}(): no icon named {icon!r}")
            if name == "prop":
                data, prop = args[:2]
                if prop not in data.bl_rna.properties:
                    raise KeyError(f"{type(data).__name__} has no property {prop!r}")
            if name == "operator" and not _operator_exists(args[0]):
                raise KeyError(f"no operator {args[0]!r} is registered")
            if name == "progress":
                factor = kwargs.get("factor", 0.0)
                if not 0.0 <= factor <= 1.0:
                    raise ValueError(f"progress factor {factor} is outside 0..1")
            self.calls.append((self.depth, name, args, kwargs))
            if name in _CONTAINERS:
                return RecordingLayout(name, self.calls, self.depth + 1)
            if name == "operator":
                return _OperatorProperties()
            return None

        return call

    def texts(self) -> list[str]:
        """Every text shown: labels, and operator/prop buttons' explicit texts."""
        return [kwargs.get("text", "") for _, name, _, kwargs in self.calls if name in ("label", "progress")]

    def operators(self) -> list[str]:
        return [args[0] for _, name, args, _ in self.calls if name == "operator"]


class _OperatorProperties:
    """What layout.operator() returns: the button's operator properties (set freely here)."""

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
