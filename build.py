#!/usr/bin/env python3
"""Build the installable Blender extension zip(s) into dist/ and validate them with Blender's own tool.

The package is addon/ plus blender_manifest.toml, with the third-party wheels Blender lacks bundled
per platform, for both Pythons Blender embeds: 3.11 (Blender 4.2 - 5.0) and 3.13 (5.1 and later).
Blender installs the wheels matching the running Python into the extension's site-packages and skips
the others. Blender's extension CLI (`blender_ext.py`, shipped inside the bpy wheel) builds the zip and
validates it, with the manifest's tags checked against Blender's list as `blender -c extension build`
does; this script then checks that every dependency has a wheel Blender accepts for each Python.

  python build.py                      # this machine's platform
  python build.py --platform all       # every supported platform, one zip each
  python build.py --check-with /work/venvs/bpy51/bin/python   # and install it into that Python's bpy
"""

import argparse
import importlib.metadata
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Packages the add-on imports at run time (the relay and provider need more; those are not bundled).
ADDON_PACKAGES = ("coincurve", "mnemonic", "cryptography", "httpx", "rich")
# Blender ships these in its own Python (and the bpy wheel depends on them): never bundled twice.
BLENDER_BUNDLED = {"certifi", "charset-normalizer", "cython", "idna", "numpy", "requests", "urllib3", "zstandard"}
# Blender's name → pip platform tags it can load (Blender 4.2+ needs macOS 11.2 or newer).
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "macos-arm64": ["macosx_11_0_arm64", "macosx_10_9_universal2"],
    "macos-x64": ["macosx_11_0_x86_64", "macosx_10_15_x86_64", "macosx_10_13_x86_64", "macosx_10_12_x86_64",
                  "macosx_10_9_x86_64", "macosx_10_9_universal2"],
    "windows-x64": ["win_amd64"],
}
# Where a pinned version has no wheel for a platform, the newest that has one (checked by the build).
PLATFORM_PINS = {
    # cryptography 49 dropped Intel-mac wheels; 48.0.1 is the last with them (same API for what we use).
    "macos-x64": {"cryptography": "cryptography==48.0.1"},
}
# The Pythons Blender embeds: 4.2 - 5.0 use 3.11, 5.1 - 5.3 use 3.13.
PYTHON_VERSIONS = ((3, 11), (3, 13))


def current_platform() -> str:
    machine = platform.machine().lower()
    arch = "arm64" if machine in ("arm64", "aarch64") else "x64"
    system = {"linux": "linux", "darwin": "macos", "windows": "windows"}[platform.system().lower()]
    return f"{system}-{arch}"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(target: str) -> list[str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#;]+)", line.strip())
        if match:
            pins[normalize(match.group(1))] = f"{match.group(1)}=={match.group(2)}"
    missing = [p for p in ADDON_PACKAGES if p not in pins]
    if missing:
        sys.exit(f"error: requirements.txt does not pin {', '.join(missing)}")
    pins.update(PLATFORM_PINS.get(target, {}))
    return [pins[p] for p in ADDON_PACKAGES]


def installed_constraints(target: str) -> str:
    """The versions installed here (what the tests ran with), so the transitive dependencies are pinned too."""
    skip = BLENDER_BUNDLED | set(PLATFORM_PINS.get(target, {}))
    return "".join(f"{normalize(d.metadata['Name'])}=={d.version}\n" for d in importlib.metadata.distributions()
                   if d.metadata["Name"] and normalize(d.metadata["Name"]) not in skip)


def wheel_tags(wheel: str) -> tuple[str, str, str, str]:
    """(distribution, python tag, abi tag, platform tag) of a wheel's file name."""
    parts = Path(wheel).name[:-4].split("-")
    return normalize(parts[0]), parts[-3], parts[-2], parts[-1]


def blender_accepts(wheel: str, python: tuple[int, int]) -> bool:
    """Blender's own rule (bl_extension_ops, wheel filtering): cpXY or pyX exactly, or an older cpXY with abi3."""
    _, python_tag, abi_tag, _ = wheel_tags(wheel)
    for tag in python_tag.split("."):
        digits = tag[2:]
        if not (tag[:2] in ("cp", "py") and digits.isdigit()):
            continue
        if len(digits) == 1:  # py3: any Python 3
            if int(digits) == python[0]:
                return True
            continue
        version = (int(digits[0]), int(digits[1:]))
        if version == python or ("abi3" in abi_tag.split(".") and version[0] == python[0] and version <= python):
            return True
    return False


def download_wheels(target: str, dest: Path) -> list[Path]:
    """Every wheel the add-on needs on `target`, for each Python Blender embeds; checked per Python."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(installed_constraints(target))
        for python in PYTHON_VERSIONS:
            version_dir = Path(tmp) / f"py{python[0]}{python[1]}"
            tag = f"cp{python[0]}{python[1]}"
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                       "--only-binary=:all:", "--dest", str(version_dir), "--constraint", str(constraints),
                       "--python-version", f"{python[0]}.{python[1]}", "--implementation", "cp",
                       "--abi", tag, "--abi", "abi3", "--abi", "none"]
            for platform_tag in PLATFORMS[target]:
                command += ["--platform", platform_tag]
            result = subprocess.run(command + pinned_requirements(target), capture_output=True, text=True)
            if result.returncode:
                sys.exit(f"error: could not download the add-on's wheels for {target}, Python {python[0]}.{python[1]}:"
                         f"\n{result.stderr.strip()}\nCheck the network, and that every package pinned in "
                         "requirements.txt has a wheel for that platform and Python.")
            wheels = [w for w in version_dir.glob("*.whl") if wheel_tags(w.name)[0] not in BLENDER_BUNDLED]
            refused = [w.name for w in wheels if not blender_accepts(w.name, python)]
            if refused:
                sys.exit(f"error: Blender on Python {python[0]}.{python[1]} would skip {', '.join(refused)}")
            for wheel in wheels:
                shutil.copy2(wheel, dest / wheel.name)
    return sorted(dest.glob("*.whl"))


def check_wheels_cover(wheels: list[Path], target: str) -> None:
    """Each bundled distribution has a wheel Blender installs on each embedded Python (none is skipped)."""
    distributions = {wheel_tags(w.name)[0] for w in wheels}
    for python in PYTHON_VERSIONS:
        covered = {wheel_tags(w.name)[0] for w in wheels if blender_accepts(w.name, python)}
        if covered != distributions:
            sys.exit(f"error: the {target} zip has no wheel Blender accepts on Python {python[0]}.{python[1]} for "
                     f"{', '.join(sorted(distributions - covered))}")


def blender_scripts() -> Path:
    """The scripts/ folder inside the installed bpy wheel (found without importing Blender)."""
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    if spec is None:
        sys.exit("error: the bpy wheel is not installed in this Python; run ./dev setup and use .venv/bin/python")
    for location in spec.submodule_search_locations or []:
        scripts = next(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"), None)
        if scripts:
            return scripts.parents[3]
    sys.exit("error: Blender's extension tool (blender_ext.py) was not found inside the bpy wheel")


def stage(target: str, staging: Path, with_wheels: bool = True) -> list[Path]:
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(ROOT / "addon", staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = download_wheels(target, staging / "wheels") if with_wheels else []
    if wheels:
        check_wheels_cover(wheels, target)
    manifest = (ROOT / "blender_manifest.toml").read_text()
    tomllib.loads(manifest)  # fail early on a broken manifest
    listed = "".join(f'  "./wheels/{w.name}",\n' for w in wheels)
    top_level = f'platforms = ["{target}"]\n' + (f"wheels = [\n{listed}]\n" if wheels else "") + "\n"
    first_table = re.search(r"^\[", manifest, re.M)  # top-level keys must come before the first [table]
    cut = first_table.start() if first_table else len(manifest)
    manifest = manifest[:cut] + top_level + manifest[cut:]
    (staging / "blender_manifest.toml").write_text(manifest)
    return wheels


def run_tool(*args: str) -> None:
    scripts = blender_scripts()
    tags = scripts / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    tool = scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    result = subprocess.run([sys.executable, str(tool), *args, "--valid-tags", str(tags)],
                            capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode:
        sys.exit(f"error: blender_ext {args[0]} failed:\n{result.stderr.strip() or result.stdout.strip()}")


def build(target: str, out_dir: Path, with_wheels: bool = True) -> Path:
    staging = out_dir / "staging" / target
    stage(target, staging, with_wheels)
    manifest = tomllib.loads((staging / "blender_manifest.toml").read_text())
    zip_path = out_dir / f"{manifest['id']}-{manifest['version']}-{target}.zip"
    run_tool("build", "--source-dir", str(staging), "--output-filepath", str(zip_path))
    run_tool("validate", str(zip_path))
    shutil.rmtree(staging)
    return zip_path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", default=current_platform(), choices=[*PLATFORMS, "all"],
                        help="platform to build for (default: this machine's)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output directory (default: dist/)")
    parser.add_argument("--no-wheels", action="store_true",
                        help="skip bundling third-party wheels (a quick packaging check; not installable as is)")
    parser.add_argument("--check-with", metavar="PYTHON", action="append", default=[],
                        help="after building this machine's zip, install it into the bpy of PYTHON with "
                             "install_check.py (enable, check registration, uninstall); repeatable")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    built = {}
    for target in PLATFORMS if args.platform == "all" else [args.platform]:
        built[target] = build(target, args.out, not args.no_wheels)
        print(f"built and validated {built[target]}")
    shutil.rmtree(args.out / "staging", ignore_errors=True)
    for python in args.check_with:
        if current_platform() not in built or args.no_wheels:
            sys.exit(f"error: --check-with needs this machine's platform ({current_platform()}) built with wheels")
        result = subprocess.run([python, str(ROOT / "install_check.py"), str(built[current_platform()])],
                                capture_output=True, text=True)
        if result.returncode:
            sys.exit(f"error: the install check with {python} failed:\n{result.stderr.strip()[-3000:]}")
        print(f"installed, registered and uninstalled with {python}: {result.stdout.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
