"""Everything that imports bpy: panels, operators, preferences, the CLI command.

Registration goes through one class list; each module adds its classes here.
"""

import bpy

from . import cli_command

classes: tuple = ()

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register():
    _register_classes()
    cli_command.register()


def unregister():
    cli_command.unregister()
    _unregister_classes()


def cli_registered() -> bool:
    return cli_command.registered()
