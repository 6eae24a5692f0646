"""The emulated chip: device spec, open/close, and per-core L1 accounting.

Configure before opening (``ttnn.open_device`` uses the current spec)::

    from runtime.emulator import set_device_spec
    set_device_spec(name="wormhole_n300", arch="wormhole_b0", grid=(8, 7),
                    l1_bytes=1_499_136, dram_banks=12)

Presets (``set_device_spec("wormhole_n300")`` etc.) mirror schedules/*.yaml.

``dispatch_core_type`` ("WORKER" or "ETH") is the dispatch placement the spec's
``grid`` needs: an N300 offers 8x8 worker cores with dispatch on ethernet
cores and 8x7 with dispatch on Tensix cores (tt-bert-reference), so the
``wormhole_n300_eth`` preset is (8, 8) + "ETH".  ``ttnn.open_device`` with a
different dispatch type changes the opened grid (see its docstring).

L1 allocator rule (the compiler implements the same rule independently; keep
both in sync):

* tile sizes: bfloat16 2048 B, bfloat8_b 1088 B, bfloat4_b 576 B,
  float32 / uint32 / int32 4096 B (uint16 2048 B, uint8 1024 B);
* 2D view of a tensor: height = product of all padded dims but the last,
  width = padded last dim (tile layout pads the last two dims to 32;
  row-major tensors are not padded);
* sharded L1 tensor: every core of the shard grid holds one shard of
  (shard_h/32)*(shard_w/32) tiles x tile bytes (row-major shards:
  shard_h*shard_w*element bytes), whether or not the shard holds data;
* interleaved L1 tensor: pages go round-robin over all cores of the device
  compute grid, so every core is charged ceil(pages / cores) * page bytes,
  page = one tile (tile layout) or one row (row-major: padded last dim *
  element bytes);
* DRAM tensors use no L1;
* allocations happen at ``to_device``, ``from_torch(device=...)`` and at
  every op output; in-place ops (``layer_norm`` with
  ``LayerNormShardedMultiCoreProgramConfig(inplace=True)``,
  ``scale_mask_softmax_in_place``) and views (``reshape`` keeping the 2D
  view) allocate nothing; ``ttnn.deallocate`` (or the last Python reference
  to a buffer going away, as in ttnn) frees;
* every L1 buffer also gets an address from tt-metal's allocator model
  (kernels/allocator.py, the module the compiler's plan uses): one address
  range for all cores (lockstep banks, so a buffer takes its largest per-core
  size on every core), placed top down by best fit in
  [``l1_unreserved_base``, ``l1_bytes - l1_small_size``); a buffer that finds
  no free block (too little L1, or fragmentation) raises
  :class:`L1OutOfMemoryError`.  Circular buffers of running ops are checked
  by the compiler's plan, not here.

``device.l1_allocated_bytes_per_core()`` / ``l1_peak_bytes_per_core()`` report
the most loaded core (the binding number); ``l1_allocated_bytes_by_core()``
gives the whole (y, x) array.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import weakref
from typing import Dict, Optional, Tuple

import numpy as np

from kernels.allocator import L1Allocator, L1OutOfMemory

from .errors import EmulatorError, L1OutOfMemoryError

__all__ = [
    "DeviceSpec",
    "DEVICE_PRESETS",
    "set_device_spec",
    "get_device_spec",
    "Device",
]


@dataclasses.dataclass(frozen=True)
class DeviceSpec:
    name: str = "wormhole_n300"
    arch: str = "wormhole_b0"  # "wormhole_b0" | "grayskull" | "blackhole"
    grid: Tuple[int, int] = (8, 7)  # compute-with-storage grid (x, y)
    l1_bytes: int = 1_499_136  # per core
    dram_banks: int = 12
    dram_bytes_per_bank: int = 1 << 30
    dispatch_core_type: str = "WORKER"  # "WORKER" | "ETH": the dispatch placement `grid` needs
    l1_unreserved_base: int = 0  # where the L1 allocator starts (schedules/devices/*.yaml l1_unreserved_base)
    l1_small_size: int = 0       # L1-small region at the top (open_device l1_small_size)
    chips: int = 1               # chips of the emulated system (N300: 2, T3000: 8): what open_mesh_device may open

    def __post_init__(self):
        if self.arch not in ("wormhole_b0", "grayskull", "blackhole"):
            raise ValueError(f"unknown arch {self.arch!r} (wormhole_b0, grayskull, blackhole)")
        gx, gy = self.grid
        if int(gx) <= 0 or int(gy) <= 0:
            raise ValueError(f"grid must be positive, got {self.grid}")
        object.__setattr__(self, "grid", (int(gx), int(gy)))
        if int(self.l1_bytes) <= 0:
            raise ValueError("l1_bytes must be positive")
        if self.dispatch_core_type not in ("WORKER", "ETH"):
            raise ValueError(f"unknown dispatch_core_type {self.dispatch_core_type!r} (WORKER, ETH)")


DEVICE_PRESETS: Dict[str, DeviceSpec] = {
    "wormhole_n300": DeviceSpec("wormhole_n300", "wormhole_b0", (8, 7), 1_499_136, 12, l1_unreserved_base=105_824),
    "wormhole_n300_eth": DeviceSpec("wormhole_n300_eth", "wormhole_b0", (8, 8), 1_499_136, 12,
                                    dispatch_core_type="ETH", l1_unreserved_base=105_824),
    "grayskull_e150": DeviceSpec("grayskull_e150", "grayskull", (12, 9), 1_048_576, 8, l1_unreserved_base=173_440),
}

_current_spec: DeviceSpec = DEVICE_PRESETS["wormhole_n300"]


def set_device_spec(
    name: str = "wormhole_n300",
    arch: Optional[str] = None,
    grid: Optional[Tuple[int, int]] = None,
    l1_bytes: Optional[int] = None,
    dram_banks: Optional[int] = None,
    dram_bytes_per_bank: Optional[int] = None,
    dispatch_core_type: Optional[str] = None,
    l1_unreserved_base: Optional[int] = None,
    l1_small_size: Optional[int] = None,
    chips: Optional[int] = None,
) -> DeviceSpec:
    """Select the chip that the next ``ttnn.open_device`` opens.

    A preset name alone selects the preset; any other argument overrides the
    preset's field (an unknown name needs arch, grid and l1_bytes).
    """
    global _current_spec
    base = DEVICE_PRESETS.get(name)
    if base is None:
        if arch is None or grid is None or l1_bytes is None:
            raise ValueError(
                f"unknown device preset {name!r}; give arch, grid and l1_bytes "
                f"(presets: {sorted(DEVICE_PRESETS)})"
            )
        base = DeviceSpec(name=name, arch=arch, grid=tuple(grid), l1_bytes=int(l1_bytes))
    given = {"arch": (arch, lambda a: a), "grid": (grid, tuple), "l1_bytes": (l1_bytes, int), "dram_banks": (dram_banks, int),
             "dram_bytes_per_bank": (dram_bytes_per_bank, int), "dispatch_core_type": (dispatch_core_type, str),
             "l1_unreserved_base": (l1_unreserved_base, int), "l1_small_size": (l1_small_size, int),
             "chips": (chips, int)}
    fields = {k: convert(v) for k, (v, convert) in given.items() if v is not None}
    spec = dataclasses.replace(base, name=name, **fields)
    _current_spec = spec
    return spec


def get_device_spec() -> DeviceSpec:
    return _current_spec


class Device:
    """An opened emulated device (what ``ttnn.open_device`` returns)."""

    _ids = itertools.count()

    def __init__(self, spec: DeviceSpec, device_id: int = 0, dispatch_core_config=None):
        self.spec = spec
        self.device_id = int(device_id)
        self.dispatch_core_config = dispatch_core_config  # the ttnn.DispatchCoreConfig it was opened with
        # ttnn 0.81 caches programs by default (ProgramCache enabled since tt-metal PR #23268, 2025-06);
        # v0.55-era programs had to call enable_program_cache().
        self.program_cache_enabled = True
        self._uid = next(Device._ids)
        self._open = True
        gx, gy = spec.grid
        self._l1 = np.zeros((gy, gx), dtype=np.int64)
        self._l1_peak = np.zeros((gy, gx), dtype=np.int64)
        self._charges: Dict[int, np.ndarray] = {}
        self._addresses: Dict[int, int] = {}      # charge id -> L1 address
        self.l1_allocator = L1Allocator(l1_bytes=spec.l1_bytes, base=spec.l1_unreserved_base,
                                        l1_small_size=spec.l1_small_size)
        self.capture = None                       # runtime.emulator.graph_capture.Capture while one runs
        self._charge_ids = itertools.count()
        self._lock = threading.Lock()
        self.dram_allocated_bytes = 0
        self.dram_peak_bytes = 0
        self._dram_charges: Dict[int, int] = {}
        self.op_counts: Dict[str, int] = {}
        # trace support (runtime/emulator/ttnn/trace.py): allocation order, the capture's log, replay mode
        self._serial = 0
        self._serials: Dict[int, int] = {}
        self._sizes: Dict[int, int] = {}
        self.alloc_log = None          # list of (address, size) while a trace is captured
        self.free_listener = None      # called with the address of each L1 buffer freed while a trace is captured
        self.replaying = False         # a trace replays into buffers it already has: ops allocate nothing

    # ttnn-facing API ------------------------------------------------------
    def compute_with_storage_grid_size(self):
        from .ttnn.types import CoreCoord

        return CoreCoord(*self.spec.grid)

    def arch(self):
        from .ttnn.types import Arch

        return {"wormhole_b0": Arch.WORMHOLE_B0, "grayskull": Arch.GRAYSKULL, "blackhole": Arch.BLACKHOLE}[
            self.spec.arch
        ]

    def id(self) -> int:
        return self.device_id

    def l1_size_per_core(self) -> int:
        return self.spec.l1_bytes

    def dram_grid_size(self):
        from .ttnn.types import CoreCoord

        return CoreCoord(self.spec.dram_banks, 1)

    def num_dram_channels(self) -> int:
        return self.spec.dram_banks

    def is_open(self) -> bool:
        return self._open

    def enable_program_cache(self) -> None:
        """``Device.enable_program_cache()`` (ttnn 0.81.1 MeshDevice method; also in v0.55): records the flag."""
        self.program_cache_enabled = True

    def disable_and_clear_program_cache(self) -> None:
        """``Device.disable_and_clear_program_cache()`` (ttnn 0.81.1 MeshDevice method): records the flag."""
        self.program_cache_enabled = False

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"<emulated ttnn Device {self.device_id} {self.spec.name} ({self.spec.arch}, grid {self.spec.grid}, {state})>"

    # L1 accounting --------------------------------------------------------
    def l1_allocated_bytes_per_core(self) -> int:
        """Bytes allocated now on the most loaded core."""
        return int(self._l1.max())

    def l1_peak_bytes_per_core(self) -> int:
        """Highest per-core allocation seen since open / ``reset_l1_peak``."""
        return int(self._l1_peak.max())

    def l1_allocated_bytes_by_core(self) -> np.ndarray:
        """Copy of the per-core allocation, indexed [y, x]."""
        return self._l1.copy()

    def l1_peak_bytes_by_core(self) -> np.ndarray:
        return self._l1_peak.copy()

    def reset_l1_peak(self) -> None:
        self._l1_peak[...] = self._l1

    def _check_open(self, op: str = "device") -> None:
        if not self._open:
            raise EmulatorError("device is closed", op=op, rule="device_open")

    def _alloc_l1(self, per_core: np.ndarray, what: str, op: str, layout: str = "INTERLEAVED") -> int:
        """Charge ``per_core`` bytes ((y, x) array) at an allocator address; returns a charge id."""
        if self.replaying:
            return -1
        with self._lock:
            size = int(per_core.max())
            address = None
            if size:
                try:
                    address = self.l1_allocator.allocate(size, what)
                except L1OutOfMemory as e:
                    st = e.stats
                    frag = " (fragmented: enough is free, not in one block)" if st["free"] >= e.size else ""
                    raise L1OutOfMemoryError(
                        f"out of L1 allocating {what}: {e.size} B per core (lockstep banks) needed; {st['free']} B "
                        f"free of {st['allocatable']} above the allocator base {self.spec.l1_unreserved_base}, "
                        f"largest free block {st['largest_free']} B{frag} on {self.spec.name}",
                        op=op,
                        rule="l1_capacity",
                    ) from None
            new = self._l1 + per_core
            self._l1 = new
            np.maximum(self._l1_peak, new, out=self._l1_peak)
            cid = next(self._charge_ids)
            self._charges[cid] = per_core
            if address is not None:
                self._addresses[cid] = address
                self._serial += 1
                self._serials[cid], self._sizes[cid] = self._serial, size
                if self.alloc_log is not None:
                    self.alloc_log.append((address, size))
            if self.capture is not None:
                self.capture.buffer_allocate(address, size, int(np.count_nonzero(per_core)), layout)
            return cid

    def _free_l1(self, cid: int) -> None:
        with self._lock:
            per_core = self._charges.pop(cid, None)
            if per_core is not None:
                self._l1 = self._l1 - per_core
            address = self._addresses.pop(cid, None)
            self._serials.pop(cid, None)
            self._sizes.pop(cid, None)
            if address is not None:
                self.l1_allocator.free(address)
                if self.free_listener is not None:
                    self.free_listener(address)
                if self.capture is not None:
                    self.capture.buffer_deallocate(address)

    def l1_buffers_after(self, serial: int):
        """(charge id, address, size) of the live L1 buffers allocated after allocation number ``serial``."""
        return [(cid, a, self._sizes[cid]) for cid, a in self._addresses.items() if self._serials[cid] > serial]

    def l1_address(self, cid: int) -> Optional[int]:
        return self._addresses.get(cid)

    def _alloc_dram(self, nbytes: int) -> int:
        if self.replaying:
            return -1
        with self._lock:
            self.dram_allocated_bytes += int(nbytes)
            self.dram_peak_bytes = max(self.dram_peak_bytes, self.dram_allocated_bytes)
            cid = next(self._charge_ids)
            self._dram_charges[cid] = int(nbytes)
            return cid

    def _free_dram(self, cid: int) -> None:
        with self._lock:
            n = self._dram_charges.pop(cid, None)
            if n is not None:
                self.dram_allocated_bytes -= n

    def _count(self, op: str) -> None:
        self.op_counts[op] = self.op_counts.get(op, 0) + 1

    def live_l1_buffers(self) -> int:
        return len(self._charges)


class Buffer:
    """Storage shared by the tensors that alias it (views, in-place results).

    ``data`` holds values already rounded to the dtype, shaped like the
    tensor that created the buffer: float32 (op outputs), bfloat16 (host data
    of bfloat16 / bfloat8_b / bfloat4_b tensors, which bfloat16 holds exactly:
    half the memory for weights) or int64 (integer dtypes).  A device
    buffer owns an L1 (or DRAM) charge that is released by ``free`` or when
    the last tensor referring to it is garbage collected, as in ttnn.
    """

    __slots__ = ("data", "device", "allocated", "owners", "_finalizer", "l1_charge", "__weakref__")

    def __init__(self, data, device: Optional[Device] = None, l1_per_core: Optional[np.ndarray] = None,
                 dram_bytes: int = 0, what: str = "tensor", op: str = "ttnn", layout: str = "INTERLEAVED"):
        self.data = data
        self.device = device
        self.allocated = True
        self.owners = weakref.WeakSet()  # tensors that alias this buffer
        self._finalizer = None
        self.l1_charge = None
        if device is not None:
            if l1_per_core is not None:
                cid = device._alloc_l1(l1_per_core, what, op, layout)
                self.l1_charge = cid
                self._finalizer = weakref.finalize(self, device._free_l1, cid)
            else:
                cid = device._alloc_dram(dram_bytes)
                self._finalizer = weakref.finalize(self, device._free_dram, cid)

    @property
    def address(self) -> Optional[int]:
        """The buffer's L1 address (same on every core), None in DRAM or on the host."""
        return self.device.l1_address(self.l1_charge) if self.l1_charge is not None else None

    def free(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self.allocated = False
        self.data = None
