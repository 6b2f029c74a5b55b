#!/usr/bin/env python3
"""Install an extension zip into the `bpy` of the Python running this, enable it, check it, uninstall it.

  /path/to/python-with-bpy install_check.py dist/render_farm_stacks-0.1.0-linux-x64.zip

The Python may be any with a `bpy` wheel: .venv (bpy 5.0, Python 3.11) or a venv with bpy 5.1+ on
Python 3.13 (`python3.13 -m venv /work/venvs/bpy51 && /work/venvs/bpy51/bin/pip install bpy==5.1.2`).
`python build.py --check-with PYTHON` builds the zip and runs this. Blender's user folders are pointed
at a fresh temporary directory, so the machine's own Blender setup is neither read nor changed.
Installs through `bpy.ops.extensions.package_install_files` (what Install from Disk runs), checks the
add-on's classes, preferences and CLI command are registered and that its bundled wheels import from
the extension's own site-packages where this Python lacks them, then uninstalls through
`bpy.ops.extensions.package_uninstall` and checks nothing stays registered and no file stays behind.
Prints one JSON line with what it found; exits non-zero on the first failed check.
"""

import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

EXTENSION_ID = "render_farm_stacks"
REPO = "user_default"
# What the add-on imports from its bundled wheels.
BUNDLED_MODULES = ("coincurve", "mnemonic", "cryptography", "httpx", "rich")


def fail(message: str) -> None:
    print(f"install check failed: {message}", file=sys.stderr)
    sys.exit(1)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def main(zip_path: str) -> int:
    # Python puts this script's folder (the repository) first on sys.path: drop it, so the installed add-on
    # must import its own copy of every module (an absolute `import addon…` would only work from here).
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    home = Path(tempfile.mkdtemp(prefix="render-farm-install-"))
    os.environ["BLENDER_USER_RESOURCES"] = str(home)  # before bpy is imported
    import bpy

    report = {"blender": bpy.app.version_string, "python": sys.version.split()[0]}
    result = bpy.ops.extensions.package_install_files(filepath=str(Path(zip_path).resolve()), repo=REPO,
                                                      enable_on_install=True)
    if result != {"FINISHED"}:
        fail(f"package_install_files returned {result}")
    package = f"bl_ext.{REPO}.{EXTENSION_ID}"
    if package not in bpy.context.preferences.addons:
        fail(f"{package} is not enabled after install")
    addon = sys.modules[package]
    ui = importlib.import_module(f"{package}.blender")
    classes = list(ui.classes)
    unregistered = [c.__name__ for c in classes if not getattr(c, "is_registered", False)]
    if unregistered:
        fail(f"classes not registered: {unregistered}")
    if bpy.context.preferences.addons[package].preferences is None:
        fail("the add-on's preferences are not registered")
    if not ui.cli_registered():
        fail("the CLI command is not registered")
    report["classes"] = sorted(c.__name__ for c in classes)
    extensions = home / "extensions"
    report["bundled"] = {}
    for name in BUNDLED_MODULES:
        module = importlib.import_module(name)
        report["bundled"][name] = "extension" if extensions in Path(module.__file__).parents else "this Python"
    report["addon_file"] = str(Path(addon.__file__).relative_to(home))
    if "addon" in sys.modules:
        fail(f"the installed add-on imported the repository's copy ({sys.modules['addon'].__file__})")

    repos = [repo.module for repo in bpy.context.preferences.extensions.repos]
    result = bpy.ops.extensions.package_uninstall(repo_index=repos.index(REPO), pkg_id=EXTENSION_ID)
    if result != {"FINISHED"}:
        fail(f"package_uninstall returned {result}")
    if package in bpy.context.preferences.addons:
        fail(f"{package} is still enabled after uninstall")
    still = [c.__name__ for c in classes if getattr(c, "is_registered", False)]
    if still:
        fail(f"classes still registered after uninstall: {still}")
    if ui.cli_registered():
        fail("the CLI command is still registered after uninstall")
    left = [f for f in files_under(extensions / REPO) + files_under(extensions / ".user")
            + files_under(extensions / ".local") if not f.startswith(".blender_ext/")]
    if left:
        fail(f"files left behind after uninstall: {left}")
    report["uninstalled"] = True
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    sys.exit(main(sys.argv[1]))
