"""Render devices as Cycles in the bpy wheel sees them, and the choice of one for a render.

Detection runs in a subprocess (importing bpy costs a second and a few hundred MiB, and a broken GPU
driver can crash the process that probes it). It opens no scene, so it needs no sandbox. For every GPU
backend that finds nothing, Cycles' own words (e.g. "CUEW initialization failed: Error opening the
library") are kept so the GPU owner can see why a GPU was not used.
"""

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

# Cycles backends in order of preference: OptiX is faster than CUDA on the same NVIDIA card.
GPU_KINDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")

_DETECT = r"""
import json, bpy
prefs = bpy.context.preferences.addons["cycles"].preferences
built = {item[0] for item in prefs.get_device_types(bpy.context)}
found, missing = [], {}
for kind in KINDS:
    if kind not in built:
        missing[kind] = "not built into this bpy"
        continue
    prefs.compute_device_type = kind
    prefs.refresh_devices()
    devices = [d for d in prefs.devices if d.type == kind]
    found += [{"kind": kind, "name": d.name, "id": d.id} for d in devices]
    if not devices:
        missing[kind] = "no device found"
cpu = next((d.name for d in prefs.devices if d.type == "CPU"), "CPU")
print("DEVICES " + json.dumps({"found": found, "missing": missing, "cpu": cpu}))
""".replace("KINDS", repr(GPU_KINDS))


class DeviceError(RuntimeError):
    """The wanted device is not on this machine, or detection failed."""


@dataclass(frozen=True)
class Device:
    kind: str  # "CPU" or one of GPU_KINDS
    name: str
    id: str  # Cycles' device id ("CPU", "CUDA_NVIDIA GeForce RTX 4090_0000:01:00", ...)

    @property
    def spec(self) -> str:
        """How render_chunk's `device` names this one device."""
        return "CPU" if self.kind == "CPU" else f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Detected:
    devices: list[Device]  # GPUs first (in GPU_KINDS order), the CPU last
    why_not: dict[str, str] = field(default_factory=dict)  # GPU kind -> why it offers no device

    @property
    def gpus(self) -> list[Device]:
        return [d for d in self.devices if d.kind != "CPU"]

    def explain(self) -> list[str]:
        """Lines for `provider devices` and the agent's start-up log."""
        lines = [f"{d.kind:<7} {d.name}  ({d.spec})" for d in self.devices]
        if not self.gpus:
            lines.append("no GPU found, rendering on the CPU:")
            lines += [f"  {kind}: {why}" for kind, why in self.why_not.items()]
        return lines


def detect(python: str = sys.executable, timeout: float = 120) -> Detected:
    try:
        result = subprocess.run([python, "-I", "-c", _DETECT], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"device detection took longer than {timeout:g} s (a GPU driver hangs?)") from None
    line = next((x for x in result.stdout.splitlines() if x.startswith("DEVICES ")), None)
    if result.returncode != 0 or line is None:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise DeviceError(f"device detection failed (exit {result.returncode}): {tail}")
    return parse_detection(json.loads(line[len("DEVICES "):]), result.stdout + result.stderr)


def parse_detection(data: dict, log: str = "") -> Detected:
    """Detection output to Devices; Cycles' warnings name the reason a backend found nothing."""
    devices = [Device(d["kind"], d["name"], d["id"]) for d in data["found"]]
    devices.sort(key=lambda d: GPU_KINDS.index(d.kind))
    why = {}
    for kind, reason in data["missing"].items():
        # CUEW is the CUDA (and OptiX) loader, HIPEW the HIP one.
        tags = {"OPTIX": ("OPTIX", "CUEW", "CUDA"), "CUDA": ("CUEW", "CUDA"), "HIP": ("HIPEW", "HIP")}
        tags = tags.get(kind, (kind,))
        said = [x.split("|", 1)[-1].split(None, 1)[-1].strip() for x in log.splitlines()
                if ("WARNING" in x or "ERROR" in x) and any(t in x.upper() for t in tags)]
        why[kind] = f"{reason} ({'; '.join(dict.fromkeys(said))})" if said else reason
    return Detected([*devices, Device("CPU", data.get("cpu", "CPU"), "CPU")], why)


def select(devices: Sequence[Device], wanted: str = "auto") -> list[Device]:
    """The devices one render uses: "auto" (all GPUs of the best kind, else the CPU), "CPU", a kind
    ("CUDA": all of that kind) or one device's spec ("CUDA:<id>")."""
    if wanted == "auto":
        gpus = [d for d in devices if d.kind != "CPU"]
        return [d for d in gpus if d.kind == gpus[0].kind] if gpus else [d for d in devices if d.kind == "CPU"][:1]
    kind, _, ident = wanted.partition(":")
    kind = kind.upper()
    if kind == "CPU":
        return [Device("CPU", "CPU", "CPU")]
    if kind not in GPU_KINDS:
        raise DeviceError(f"unknown device {wanted!r}: use auto, CPU, one of {', '.join(GPU_KINDS)}, or KIND:ID "
                          "as listed by `provider devices`")
    chosen = [d for d in devices if d.kind == kind and (not ident or d.id == ident)]
    if not chosen:
        have = ", ".join(d.spec for d in devices) or "none"
        raise DeviceError(f"no {wanted} device on this machine (found: {have}); see `provider devices` for why")
    return chosen


def render_settings(device: str) -> dict:
    """What the render child applies for render_chunk's `device`: "CPU", a GPU kind (all of its devices)
    or one device's spec "KIND:ID". The child enables the matching devices in Cycles' preferences and
    fails with the list it saw if none matches."""
    kind, _, ident = device.partition(":")
    kind = kind.upper()
    if kind == "CPU":
        return {"kind": "CPU", "ids": []}
    if kind not in GPU_KINDS:
        raise DeviceError(f"unknown device {device!r}: use CPU, one of {', '.join(GPU_KINDS)}, or KIND:ID as listed "
                          "by `provider devices`")
    return {"kind": kind, "ids": [ident] if ident else []}
