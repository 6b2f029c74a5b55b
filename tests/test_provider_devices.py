"""Render devices: detection through Cycles in the bpy wheel, and choosing one.

This machine has no GPU, so detection is run for real (it finds the CPU and says why each GPU backend
found nothing) and the GPU choices are tested on device lists shaped like Cycles' own output."""

import pytest

from server.provider.devices import Device, DeviceError, detect, parse_detection, render_settings, select


def _card(kind: str, name: str, slot: str) -> dict:
    suffix = "_OptiX" if kind == "OPTIX" else ""
    return {"kind": kind, "name": f"NVIDIA GeForce {name}", "id": f"CUDA_NVIDIA GeForce {name}_0000:{slot}{suffix}"}


# What detection prints on a machine with two NVIDIA cards (CUDA and OptiX list the same cards).
TWO_NVIDIA = {"found": [_card("CUDA", "RTX 4090", "01:00"), _card("CUDA", "RTX 3060", "02:00"),
                        _card("OPTIX", "RTX 4090", "01:00"), _card("OPTIX", "RTX 3060", "02:00")],
              "missing": {"HIP": "no device found", "ONEAPI": "no device found", "METAL": "not built into this bpy"},
              "cpu": "AMD Ryzen 9"}


def test_detection_on_this_machine_finds_the_cpu_and_says_why_no_gpu():
    found = detect()
    assert found.devices[-1].kind == "CPU"
    if not found.gpus:
        lines = found.explain()
        assert "no GPU found, rendering on the CPU:" in lines
        assert set(found.why_not) == {"OPTIX", "CUDA", "HIP", "ONEAPI", "METAL"}
        assert found.why_not["METAL"] == "not built into this bpy"


def test_cycles_warnings_become_the_reason_a_backend_found_nothing():
    log = ("00:00.509  cycles           | WARNING CUEW initialization failed: Error opening the library\n"
           "00:00.510  cycles           | WARNING HIPEW initialization failed: Error opening HIP dynamic library\n"
           'DEVICES {"found": []}\n')
    found = parse_detection({"found": [], "missing": {"CUDA": "no device found", "HIP": "no device found"},
                             "cpu": "AMD EPYC"}, log)
    assert found.why_not == {"CUDA": "no device found (CUEW initialization failed: Error opening the library)",
                             "HIP": "no device found (HIPEW initialization failed: Error opening HIP dynamic library)"}
    assert found.devices == [Device("CPU", "AMD EPYC", "CPU")]


def test_auto_picks_every_gpu_of_the_best_backend():
    found = parse_detection(TWO_NVIDIA)
    assert [d.kind for d in found.devices] == ["OPTIX", "OPTIX", "CUDA", "CUDA", "CPU"]  # OptiX first
    chosen = select(found.devices)
    assert [d.kind for d in chosen] == ["OPTIX", "OPTIX"]
    assert select([Device("CPU", "AMD EPYC", "CPU")]) == [Device("CPU", "AMD EPYC", "CPU")]


def test_one_device_by_its_spec_and_what_the_render_child_gets():
    found = parse_detection(TWO_NVIDIA)
    one = select(found.devices, "CUDA:CUDA_NVIDIA GeForce RTX 3060_0000:02:00")
    assert one == [Device("CUDA", "NVIDIA GeForce RTX 3060", "CUDA_NVIDIA GeForce RTX 3060_0000:02:00")]
    assert render_settings(one[0].spec) == {"kind": "CUDA", "ids": ["CUDA_NVIDIA GeForce RTX 3060_0000:02:00"]}
    assert render_settings("optix") == {"kind": "OPTIX", "ids": []}  # every OptiX device
    assert render_settings("CPU") == {"kind": "CPU", "ids": []}
    assert len(select(found.devices, "cuda")) == 2


def test_a_device_that_is_not_there_is_refused_with_what_is():
    found = parse_detection(TWO_NVIDIA)
    with pytest.raises(DeviceError, match=r"no HIP device on this machine \(found: OPTIX:.*CPU\)"):
        select(found.devices, "HIP")
    with pytest.raises(DeviceError, match="unknown device 'VULKAN'"):
        select(found.devices, "VULKAN")
    with pytest.raises(DeviceError, match="unknown device 'TPU'"):
        render_settings("TPU")
