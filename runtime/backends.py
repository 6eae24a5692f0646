"""Where a program runs: a Tenstorrent device through the real ttnn, or the host emulator."""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import xxhash

from compiler.errors import UserError


def _real_ttnn_devices() -> tuple[object | None, str]:
    try:
        ttnn = importlib.import_module("ttnn")
    except Exception as e:  # not installed here, or broken install: either way no device
        return None, f"ttnn is not importable ({e.__class__.__name__})"
    if getattr(ttnn, "__emulator__", False):
        return None, "ttnn is the emulator"
    try:
        count = ttnn.GetNumAvailableDevices()
    except Exception as e:
        return None, f"ttnn found no device ({e.__class__.__name__})"
    return (ttnn, "ok") if count > 0 else (None, "ttnn found no Tenstorrent device")


class EmulatorBackend:
    """`name` keys the weight cache: the fp32 executor keeps weights unrounded, so it gets entries of its own."""

    @property
    def name(self) -> str:
        mode = self.emulator.formats.get_numerics()
        return "emulator" if mode == "faithful" else f"emulator-{mode}"

    def __init__(self):
        from . import emulator

        self.emulator = emulator
        self.ttnn = emulator.ttnn

    def open(self, manifest: dict, program):
        """Emulate the build's chip, then open it the way the program does (its open_device())."""
        spec = manifest["device_spec"]
        dispatch = (manifest.get("open_device") or {}).get("dispatch_core_type", "WORKER")
        self.emulator.set_device_spec(manifest["device"], arch=manifest["arch"], grid=tuple(spec["grid"]),
                                      l1_bytes=spec["l1_bytes_per_core"], dram_banks=spec["dram_channels"],
                                      dispatch_core_type=dispatch,
                                      # the allocator's range, as the compiler planned it (older manifests: all of L1)
                                      l1_unreserved_base=spec.get("l1_unreserved_base", 0),
                                      l1_small_size=(manifest.get("open_device") or {}).get("l1_small_size", 0),
                                      chips=(manifest.get("runner") or {}).get("chips", 1))
        self.emulator.formats.tune_allocator()
        stale = self.ttnn.open_device(device_id=0)     # ttnn hands back an already-open device: close it first
        self.ttnn.close_device(stale)
        return _checked_grid(self.ttnn, program.open_device(0), manifest)

    def close(self, device) -> None:
        self.ttnn.close_device(device)

    # prepared-weight cache: one checksummed pack file, mapped rather than copied (runtime/emulator/host_pack.py)
    def write_host_tensors(self, directory: Path, tensors: dict) -> None:
        self.emulator.host_pack.save(directory / "tensors.pack", tensors)

    def read_host_tensors(self, directory: Path) -> dict:
        return self.emulator.host_pack.load(directory / "tensors.pack")


def _file_checksum(path: Path) -> str:
    """xxh3_64 and size of a file (integrity, not security)."""
    h = xxhash.xxh3_64()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return f"{h.hexdigest()}-{path.stat().st_size}"


class TTNNBackend:
    name = "ttnn"

    def __init__(self, ttnn):
        self.ttnn = ttnn

    def open(self, manifest: dict, program):
        """Open the chip through the program's open_device() (dispatch cores, L1 regions, program cache)."""
        for key, value in (manifest.get("required_env") or {}).items():   # API v0.55 only (WH_ARCH_YAML)
            if os.environ.get(key) != value:
                raise UserError(f"this build targets {manifest['device']}: set {key}={value} before opening the device")
        return _checked_grid(self.ttnn, program.open_device(0), manifest)

    def close(self, device) -> None:
        self.ttnn.close_device(device)

    # prepared-weight cache: ttnn's own tensor files, one per tensor, with a checksum list beside them
    def write_host_tensors(self, directory: Path, tensors: dict) -> None:
        files = {}
        for i, (name, tensor) in enumerate(tensors.items()):
            path = directory / f"{i:04d}.tensorbin"
            self.ttnn.dump_tensor(str(path), tensor)
            files[name] = {"file": path.name, "checksum": _file_checksum(path)}
        (directory / "tensors.json").write_text(json.dumps(files))

    def read_host_tensors(self, directory: Path) -> dict:
        out = {}
        for name, meta in json.loads((directory / "tensors.json").read_text()).items():
            path = directory / meta["file"]
            if _file_checksum(path) != meta["checksum"]:
                raise ValueError(f"{path}: checksum mismatch")
            out[name] = self.ttnn.load_tensor(str(path))
        return out


def _checked_grid(ttnn, device, manifest: dict):
    """The opened chip must offer the grid the build was scheduled on."""
    grid = device.compute_with_storage_grid_size()
    need = manifest["grid"]
    if grid.x < need[0] or grid.y < need[1]:
        ttnn.close_device(device)
        how = (manifest.get("open_device") or {}).get("dispatch_core_type", "WORKER")
        raise UserError(f"the device program.py opened has compute grid {grid.x}x{grid.y}, smaller than the build's "
                        f"{need[0]}x{need[1]} (which needs {how} dispatch); rebuild for this device")
    return device


def pick_backend(choice: str, log=print):
    if choice == "emulator":
        return EmulatorBackend()
    ttnn, why = _real_ttnn_devices()
    if choice == "ttnn":
        if ttnn is None:
            raise UserError(f"--device ttnn: no Tenstorrent device available ({why}); use --device emulator")
        return TTNNBackend(ttnn)
    if ttnn is not None:
        log("device: Tenstorrent device found, running through ttnn")
        return TTNNBackend(ttnn)
    log(f"device: host emulator ({why})")
    return EmulatorBackend()
