"""Everything that imports bpy: panels, operators, preferences, packing, CLI.

The UI is built in later issues; registration already goes through one class list so each module
only has to add its classes here.
"""

import bpy

classes: tuple = ()

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register():
    _register_classes()


def unregister():
    _unregister_classes()
