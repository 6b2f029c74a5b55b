#!/usr/bin/env python3
"""Build the installable Blender extension zip(s) into dist/ and validate them with Blender's own tool.

The package is addon/ plus blender_manifest.toml, with the add-on's third-party wheels bundled per
platform (Blender installs them into the extension's private site-packages). Blender's extension CLI
(`blender_ext.py`, shipped inside the bpy wheel) builds and validates the zip.

  python build.py                      # this machine's platform
  python build.py --platform all      # every supported platform, one zip each
"""

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Packages the add-on imports at run time (the relay and provider need more; those are not bundled).
ADDON_PACKAGES = ("coincurve", "mnemonic", "bip32", "cryptography", "httpx")
# Blender 4.2 – 5.0 embed CPython 3.11. Each platform: (Blender's name, pip platform tags).
PLATFORMS = {
    "linux-x64": ("linux-x64", ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]),
    "macos-arm64": ("macos-arm64", ["macosx_11_0_arm64", "macosx_10_9_universal2"]),
    "macos-x64": ("macos-x64", ["macosx_10_9_x86_64", "macosx_10_12_x86_64", "macosx_10_9_universal2"]),
    "windows-x64": ("windows-x64", ["win_amd64"]),
}
PYTHON_VERSION = "3.11"


def current_platform() -> str:
    machine = platform.machine().lower()
    arch = "arm64" if machine in ("arm64", "aarch64") else "x64"
    system = {"linux": "linux", "darwin": "macos", "windows": "windows"}[platform.system().lower()]
    return f"{system}-{arch}"


def pinned_requirements() -> list[str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
        if match:
            pins[match.group(1).lower()] = f"{match.group(1)}=={match.group(2)}"
    missing = [p for p in ADDON_PACKAGES if p not in pins]
    if missing:
        sys.exit(f"error: requirements.txt does not pin {', '.join(missing)}")
    return [pins[p] for p in ADDON_PACKAGES]


def download_wheels(target: str, dest: Path) -> list[Path]:
    tags = PLATFORMS[target][1]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(dest),
               "--python-version", PYTHON_VERSION, "--implementation", "cp", "--abi", "cp311", "--abi", "abi3",
               "--abi", "none"]
    for tag in tags:
        command += ["--platform", tag]
    command += pinned_requirements()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"error: could not download the add-on's wheels for {target}:\n{result.stderr.strip()}\n"
                 "Check the network and that every package has a wheel for that platform.")
    return sorted(dest.glob("*.whl"))


def blender_ext() -> Path:
    """Blender's extension tool, found inside the installed bpy wheel (without importing Blender)."""
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    if spec is None:
        sys.exit("error: the bpy wheel is not installed in this Python; run ./dev setup and use .venv/bin/python")
    for location in spec.submodule_search_locations or []:
        tool = next(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"), None)
        if tool:
            return tool
    sys.exit("error: Blender's extension tool (blender_ext.py) was not found inside the bpy wheel")


def stage(target: str, staging: Path, with_wheels: bool = True) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(ROOT / "addon", staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = download_wheels(target, staging / "wheels") if with_wheels else []
    manifest = (ROOT / "blender_manifest.toml").read_text()
    tomllib.loads(manifest)  # fail early on a broken manifest
    listed = "".join(f'  "./wheels/{w.name}",\n' for w in wheels)
    top_level = f'platforms = ["{PLATFORMS[target][0]}"]\n' + (f"wheels = [\n{listed}]\n" if wheels else "") + "\n"
    first_table = re.search(r"^\[", manifest, re.M)  # top-level keys must come before the first [table]
    cut = first_table.start() if first_table else len(manifest)
    manifest = manifest[:cut] + top_level + manifest[cut:]
    (staging / "blender_manifest.toml").write_text(manifest)


def run_tool(*args: str) -> None:
    result = subprocess.run([sys.executable, str(blender_ext()), *args], capture_output=True, text=True)
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
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for target in PLATFORMS if args.platform == "all" else [args.platform]:
        print(f"built and validated {build(target, args.out, not args.no_wheels)}")
    shutil.rmtree(args.out / "staging", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
