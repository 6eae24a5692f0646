"""Emulated mesh of chips: ``ttnn.open_mesh_device``, multi-device tensors, mesh mappers and composers.

Names and parameters are the ttnn 0.81.1 wheel's:

* ``open_mesh_device(mesh_shape, l1_small_size, trace_region_size, num_command_queues, dispatch_core_config,
  offset, physical_device_ids, worker_l1_size)``: "Open a mesh device with the specified configuration";
  ``close_mesh_device(mesh_device)``;
* ``MeshShape(s0, s1)`` / ``MeshShape(sequence)``: "Shape of a mesh device" (s0 the outer dimension);
* ``shard_tensor_to_mesh_mapper(mesh_device, dim)``: "a mapper sharding a tensor over the given dimension";
  ``replicate_tensor_to_mesh_mapper(mesh_device)``: "a mapper replicating a tensor over the given mesh";
  ``concat_mesh_to_tensor_composer(mesh_device, dim)``; the wheel's Python wrappers ``ShardTensorToMesh``,
  ``ReplicateTensorToMesh``, ``ConcatMeshToTensor`` (ttnn/distributed/distributed.py) call these;
* ``distribute_tensor(tensor, mapper, mesh_device=None)``: "Distributes a tensor across a mesh device according
  to provided mapper"; ``get_device_tensors(tensor)``: "the shards of the tensor corresponding to the devices".

Each chip of an emulated mesh is its own :class:`runtime.emulator.device.Device` (its own L1 allocator and DRAM
accounting).  A multi-device tensor (:class:`MeshTensor`) holds one ordinary tensor per chip, and every op called
with one runs once per chip on that chip's shard (:func:`per_chip`): data parallel with replicated weights needs
no op to cross chips.  A single-device host tensor moved onto a mesh is replicated, as ttnn's ``to_device`` does
for a tensor without a distribution.  How many chips the emulated system has is the device spec's ``chips``.
"""
from __future__ import annotations

import functools
from typing import List, Optional, Sequence

import torch

from ..device import Device, get_device_spec
from ..errors import EmulatorError, OpInputError


class MeshShape:
    """``ttnn.MeshShape(s0, s1)`` or ``MeshShape([s0, s1, ...])``: row-major, outer dimension first."""

    def __init__(self, s0=None, s1=None, s2=None, shape=None):
        """The wheel's overloads: (s0, s1), (s0, s1, s2), (shape: sequence)."""
        if shape is None and s0 is not None and not isinstance(s0, int):
            shape, s0 = s0, None
        dims = tuple(shape) if shape is not None else tuple(d for d in (s0, s1, s2) if d is not None)
        if not dims or any(not isinstance(d, int) or d < 1 for d in dims):
            raise TypeError(f"MeshShape needs positive integer dimensions, got {dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def mesh_size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    def __iter__(self):
        return iter(self.dims)

    def __len__(self) -> int:
        return len(self.dims)

    def __getitem__(self, i):
        return self.dims[i]

    def __eq__(self, other) -> bool:
        return isinstance(other, MeshShape) and other.dims == self.dims

    def __repr__(self) -> str:
        return f"MeshShape([{', '.join(map(str, self.dims))}])"


class MeshDevice:
    """An opened emulated mesh: one :class:`Device` per chip, row-major over ``mesh_shape``."""

    def __init__(self, shape: MeshShape, devices: List[Device], num_command_queues: int, trace_region_size: int):
        self._shape, self.devices = shape, devices
        self.num_command_queues, self.trace_region_size = num_command_queues, trace_region_size
        from .trace import CommandQueues, register

        self.queues = CommandQueues(self, num_command_queues)
        self.replaying = False
        register(self)

    # ttnn MeshDevice API ------------------------------------------------------------
    def get_num_devices(self) -> int:
        return len(self.devices)

    @property
    def shape(self) -> MeshShape:
        return self._shape

    def get_device_ids(self) -> List[int]:
        return [d.device_id for d in self.devices]

    def compute_with_storage_grid_size(self):
        return self.devices[0].compute_with_storage_grid_size()

    def dram_grid_size(self):
        return self.devices[0].dram_grid_size()

    def arch(self):
        return self.devices[0].arch()

    def id(self) -> int:
        return self.devices[0].device_id

    def enable_program_cache(self) -> None:
        for d in self.devices:
            d.enable_program_cache()

    def is_open(self) -> bool:
        return all(d.is_open() for d in self.devices)

    # emulator accounting: the most loaded core of any chip ------------------------
    def l1_peak_bytes_per_core(self) -> int:
        return max(d.l1_peak_bytes_per_core() for d in self.devices)

    def l1_allocated_bytes_per_core(self) -> int:
        return max(d.l1_allocated_bytes_per_core() for d in self.devices)

    @property
    def spec(self):
        return self.devices[0].spec

    def __repr__(self) -> str:
        return f"<emulated ttnn MeshDevice {self._shape!r} of {self.devices[0].spec.name}>"


class MeshTensor:
    """A multi-device tensor: one shard per chip (``ttnn.get_device_tensors``); reports the per-chip shape."""

    __slots__ = ("tensors", "mesh", "__weakref__")

    def __init__(self, tensors, mesh: Optional[MeshDevice]):
        self.tensors, self.mesh = list(tensors), mesh

    @property
    def shape(self):
        return self.tensors[0].shape

    @property
    def dtype(self):
        return self.tensors[0].dtype

    @property
    def layout(self):
        return self.tensors[0].layout

    @property
    def padded_shape(self):
        return self.tensors[0].padded_shape

    def memory_config(self):
        return self.tensors[0].memory_config()

    def device(self):
        return self.mesh

    def storage_type(self):
        return self.tensors[0].storage_type()

    def buffer_address(self):
        """Lockstep allocation: every chip places the same program's buffers at the same address."""
        return self.tensors[0].buffer_address()

    def is_allocated(self) -> bool:
        return all(t.is_allocated() for t in self.tensors)

    def is_sharded(self) -> bool:
        return self.tensors[0].is_sharded()

    def deallocate(self, force: bool = True) -> None:
        for t in self.tensors:
            t.deallocate(force)

    def cpu(self, blocking: bool = True, cq_id=None):
        return MeshTensor([t.cpu(blocking) for t in self.tensors], None)

    def __repr__(self) -> str:
        return f"ttnn.Tensor(multi-device, {len(self.tensors)} shards of {self.tensors[0]!r})"


class TensorToMesh:
    """``ttnn.CppTensorToMesh``: how a host tensor is split (``shard``) or copied (``replicate``) over chips."""

    def __init__(self, mesh: MeshDevice, kind: str, dim: Optional[int] = None):
        self.mesh, self.kind, self.dim = mesh, kind, dim

    def split(self, tensor: torch.Tensor) -> List[torch.Tensor]:
        n = self.mesh.get_num_devices()
        if self.kind == "replicate":
            return [tensor] * n
        size = tensor.shape[self.dim]
        if size % n:
            raise OpInputError(f"cannot shard dim {self.dim} of size {size} evenly over {n} devices",
                               op="ttnn.shard_tensor_to_mesh_mapper", rule="mesh_shard_divisible")
        return list(torch.chunk(tensor, n, dim=self.dim))


class MeshToTensor:
    """``ttnn.CppMeshToTensor``: concatenate the chips' shards along ``dim``, in device order."""

    def __init__(self, mesh: MeshDevice, dim: int):
        self.mesh, self.dim = mesh, dim


def shard_tensor_to_mesh_mapper(mesh_device: MeshDevice, dim: int) -> TensorToMesh:
    return TensorToMesh(_mesh(mesh_device, "ttnn.shard_tensor_to_mesh_mapper"), "shard", int(dim))


def replicate_tensor_to_mesh_mapper(mesh_device: MeshDevice) -> TensorToMesh:
    return TensorToMesh(_mesh(mesh_device, "ttnn.replicate_tensor_to_mesh_mapper"), "replicate")


def concat_mesh_to_tensor_composer(mesh_device: MeshDevice, dim: int) -> MeshToTensor:
    return MeshToTensor(_mesh(mesh_device, "ttnn.concat_mesh_to_tensor_composer"), int(dim))


def ShardTensorToMesh(mesh_device: MeshDevice, dim: int) -> TensorToMesh:  # noqa: N802 (the wheel's name)
    return shard_tensor_to_mesh_mapper(mesh_device, dim)


def ReplicateTensorToMesh(mesh_device: MeshDevice) -> TensorToMesh:  # noqa: N802
    return replicate_tensor_to_mesh_mapper(mesh_device)


def ConcatMeshToTensor(mesh_device: MeshDevice, dim: int) -> MeshToTensor:  # noqa: N802
    return concat_mesh_to_tensor_composer(mesh_device, dim)


def _mesh(mesh_device, op: str) -> MeshDevice:
    if not isinstance(mesh_device, MeshDevice):
        raise TypeError(f"{op}: expected a ttnn.MeshDevice from ttnn.open_mesh_device, got {mesh_device!r}")
    return mesh_device


def distribute_tensor(tensor, mapper: TensorToMesh, mesh_device: Optional[MeshDevice] = None):
    """A host tensor split or replicated by ``mapper``: a host multi-device tensor (moved with ``to_device``)."""
    from .operations import from_torch, to_torch

    parts = mapper.split(to_torch(tensor)) if not isinstance(tensor, MeshTensor) else None
    if parts is None:
        raise OpInputError("tensor is already distributed", op="ttnn.distribute_tensor", rule="mesh_distribute")
    return MeshTensor([from_torch(p, dtype=tensor.dtype, layout=tensor.layout) for p in parts], None)


def get_device_tensors(tensor) -> list:
    return list(tensor.tensors) if isinstance(tensor, MeshTensor) else [tensor]


def from_mesh_mapper(tensor: torch.Tensor, mapper: TensorToMesh, device, memory_config, convert):
    """``from_torch(..., mesh_mapper=...)``: ``convert(part, device)`` per chip's part (device: the chip or None)."""
    if device is not None and device is not mapper.mesh:
        raise OpInputError("mesh_mapper was made for another mesh device", op="ttnn.from_torch", rule="mesh_mapper")
    chips = mapper.mesh.devices if device is not None else [None] * mapper.mesh.get_num_devices()
    return MeshTensor([convert(part, chip) for part, chip in zip(mapper.split(tensor), chips)],
                      mapper.mesh if device is not None else None)


def compose(tensor, composer: MeshToTensor, convert) -> torch.Tensor:
    """``to_torch(..., mesh_composer=...)``: the shards' torch tensors concatenated along the composer's dim."""
    if not isinstance(tensor, MeshTensor):
        return convert(tensor)
    return torch.cat([convert(t) for t in tensor.tensors], dim=composer.dim)


# ---------------------------------------------------------------------------------------------------------------
# per-chip dispatch of every op

def _find_mesh(args, kwargs) -> Optional[MeshTensor | MeshDevice]:
    for v in list(args) + list(kwargs.values()):
        if isinstance(v, (MeshTensor, MeshDevice)):
            return v
        if isinstance(v, (list, tuple)):
            found = _find_mesh(v, {})
            if found is not None:
                return found
    return None


def _mesh_of(values) -> Optional[MeshDevice]:
    """The mesh the results live on: a MeshDevice argument, else a device tensor's mesh (None: on the host)."""
    for v in values:
        if isinstance(v, MeshDevice):
            return v
    for v in values:
        if isinstance(v, MeshTensor) and v.mesh is not None:
            return v.mesh
    return None


def _pick(value, i: int):
    if isinstance(value, MeshTensor):
        return value.tensors[i]
    if isinstance(value, MeshDevice):
        return value.devices[i]
    if isinstance(value, list):
        return [_pick(v, i) for v in value]
    if isinstance(value, tuple):
        return tuple(_pick(v, i) for v in value)
    return value


def _combine(results: Sequence, mesh: Optional[MeshDevice]):
    first = results[0]
    if isinstance(first, tuple):
        return tuple(_combine([r[k] for r in results], mesh) for k in range(len(first)))
    if first is None:
        return None
    from .tensor import Tensor

    if isinstance(first, Tensor):
        on_device = first.device() is not None
        return MeshTensor(results, mesh if on_device else None)
    return first


def per_chip(fn):
    """``fn`` as ttnn runs it on a mesh: once per chip on that chip's shards, the results a multi-device tensor."""
    @functools.wraps(fn)
    def on_mesh(*args, **kwargs):
        found = _find_mesh(args, kwargs)
        if found is None:
            return fn(*args, **kwargs)
        mesh = _mesh_of(list(args) + list(kwargs.values()))
        n = len(found.devices) if isinstance(found, MeshDevice) else len(found.tensors)
        results = [fn(*_pick(args, i), **{k: _pick(v, i) for k, v in kwargs.items()}) for i in range(n)]
        return _combine(results, mesh)

    return on_mesh


# ---------------------------------------------------------------------------------------------------------------
# open / close

_open_meshes: dict[int, MeshDevice] = {}


def open_mesh_device(mesh_shape: Optional[MeshShape] = None, l1_small_size: int = 0, trace_region_size: int = 0,
                     num_command_queues: int = 1, dispatch_core_config=None, offset=None,
                     physical_device_ids: Sequence[int] = (), worker_l1_size: int = 0) -> MeshDevice:
    """Open ``mesh_shape`` chips of the emulated system (``set_device_spec(..., chips=N)``); each chip is opened as
    ``ttnn.open_device`` opens one (dispatch cores, worker L1).  More chips than the system has is refused."""
    from .operations import _open_chip

    op = "ttnn.open_mesh_device"
    spec = get_device_spec()
    shape = mesh_shape if mesh_shape is not None else MeshShape(1, spec.chips)
    if not isinstance(shape, MeshShape):
        raise TypeError(f"{op}: mesh_shape must be a ttnn.MeshShape, got {shape!r}")
    n = shape.mesh_size()
    if n > spec.chips:
        raise EmulatorError(f"mesh {shape!r} needs {n} chips; the emulated {spec.name} system has {spec.chips}",
                            op=op, rule="mesh_chip_count")
    if num_command_queues not in (1, 2):
        raise EmulatorError(f"num_command_queues={num_command_queues}: a device has 1 or 2 command queues", op=op,
                            rule="command_queue_count")
    if offset is not None or physical_device_ids:
        raise EmulatorError("offset / physical_device_ids select chips of a larger system; not emulated", op=op,
                            rule="mesh_offset")
    devices = [_open_chip(i, l1_small_size, dispatch_core_config, worker_l1_size) for i in range(n)]
    mesh = MeshDevice(shape, devices, int(num_command_queues), int(trace_region_size))
    _open_meshes[id(mesh)] = mesh
    return mesh


def close_mesh_device(mesh_device: MeshDevice) -> None:
    """``close_mesh_device(mesh_device)``: "Close the device and remove it from the device cache"."""
    from .operations import close_device

    for d in mesh_device.devices:
        close_device(d)
    _open_meshes.pop(id(mesh_device), None)
