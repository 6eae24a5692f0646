"""Two command queues, events, trace capture and replay, emulated with the rules a trace imposes.

ttnn 0.81.1 wheel docstrings (the names and keywords emulated here):

* ``record_event(mesh_device, cq_id=None, sub_device_ids=[], device_range=None)``: "Records the completion of
  commands on this CQ, preceding this call"; ``wait_for_event(cq_id, mesh_event)``: "Inserts a barrier - makes a CQ
  wait until an event is recorded"; ``event_synchronize(mesh_event)``: "blocking until the event is completed";
* ``copy_host_to_device_tensor(host_tensor, device_tensor, cq_id=None)``: "Copies a tensor from host to device ...
  Host and Device tensors must be the same shape, have the same datatype, and have the same data layout";
* ``copy(input_a, input_b)``: "Copies the elements from input_a into input_b. input_b is modified in place. Both
  input tensors must be of equal shape";
* ``begin_trace_capture(mesh_device, *, cq_id=None) -> MeshTraceId``: "Begins recording commands for a trace";
  ``end_trace_capture(mesh_device, trace_id, *, cq_id=None)``; ``execute_trace(mesh_device, trace_id, *, cq_id=None,
  blocking=True)``: "Replays a captured trace"; ``release_trace(mesh_device, trace_id)``: "Releases a captured trace
  and its storage";
* ``from_device(tensor, blocking=True, *, queue_id=None)``: blocking "whether the operation should be blocked until
  the copy is complete"; ``synchronize_device(device, cq_id=None, sub_device_ids=[])``: "waiting for all
  operations to complete".

The rules, each refused with an :class:`EmulatorError` whose ``rule`` names it:

* ``trace_capture_host_transfer``: no host <-> device transfer inside capture (tt-metal refuses reads and writes
  while a trace is being captured: a trace holds device commands only);
* ``trace_capture_allocation``: no host-side allocation inside capture (``allocate_tensor_on_device``) except one
  that takes back the address of a buffer the capture itself freed (the pattern of tt-metal's
  models/demos/sentence_bert/runner/performant_runner.py, which asserts exactly that address);
* ``trace_fixed_input_address``: every tensor the trace reads that it did not produce (inputs, weights) must, at
  replay, still be allocated at the address it had at capture: the trace's commands hold addresses, not tensors;
* ``trace_buffer_corruption``: at replay no buffer allocated after capture may overlap an L1 range the trace's own
  buffers used (the check ttnn's tools/trace_allocation_tracker.py does with TT_METAL_TRACE_ALLOC_TRACKING=1);
* ``trace_region_size``: the captured commands must fit the ``trace_region_size`` the device was opened with
  (cost per command: kernels/trace_region.py, the compiler's formula);
* ``cq_read_before_write_done`` / ``cq_write_before_read_done``: a command on one queue touching a buffer the other
  queue wrote (or still reads) must come after a ``wait_for_event`` on an event recorded after that command;
* ``read_before_synchronize``: a non-blocking read's host tensor is read only after ``synchronize_device`` (or
  ``event_synchronize``);
* ``command_queue``: a queue id the device was not opened with.

Replay re-runs the captured ops on the captured operands with allocation switched off and writes the results into
the buffers the capture produced that are still alive (the trace's outputs): no buffer is allocated, none moves.
"""
from __future__ import annotations

import functools
import itertools
import weakref
from dataclasses import dataclass, field
from typing import Optional

from kernels.trace_region import trace_command_bytes

from ..device import Device
from ..errors import EmulatorError
from .multi_device import MeshDevice, MeshTensor
from .tensor import Tensor


class QueueId(int):
    """``ttnn.QueueId(int)``: a command queue number (0 or 1)."""


@dataclass(frozen=True)
class MeshEvent:
    """``ttnn.MeshEvent``: queue ``cq`` has completed its first ``seq`` commands."""
    cq: int
    seq: int
    owner_id: int


@dataclass
class _Capture:
    trace_id: int
    cq: int
    records: list = field(default_factory=list)       # (fn, args template, kwargs template, output slots)
    slots: dict = field(default_factory=dict)         # id(tensor produced in capture) -> slot
    produced: list = field(default_factory=list)      # slot -> the tensor (strong until the capture ends)
    freed: set = field(default_factory=set)           # L1 addresses of buffers freed during the capture
    ranges: list = field(default_factory=list)        # (chip, address, size) of every L1 buffer the trace made
    external: dict = field(default_factory=dict)      # id(tensor) -> (weakref, addresses at capture)
    commands: int = 0
    end_serial: int = 0


class CommandQueues:
    """Per-device (or per-mesh) queue state: command counters, waits, buffer hazards, the traces."""

    def __init__(self, owner, count: int):
        self.owner_ref, self.count = weakref.ref(owner), int(count)
        self.issued = [0] * self.count
        self.waited = [[0] * self.count for _ in range(self.count)]   # waited[q][other]
        self.writes: dict = {}       # id(buffer) -> (cq, seq) of the last write by a queue
        self.reads: dict = {}        # id(buffer) -> (cq, seq) of the last read of a queue-written buffer
        self.capture: Optional[_Capture] = None
        self.traces: dict = {}
        self.pending_reads = weakref.WeakSet()
        self._ids = itertools.count()

    def queue(self, cq, op: str) -> int:
        q = 0 if cq is None else int(cq)
        if not 0 <= q < self.count:
            raise EmulatorError(f"command queue {q} does not exist: the device was opened with num_command_queues="
                                f"{self.count}", op=op, rule="command_queue")
        return q

    def issue(self, q: int) -> int:
        self.issued[q] += 1
        return self.issued[q]

    def _synced(self, q: int, other: int, seq: int) -> bool:
        return other == q or self.waited[q][other] >= seq

    def read(self, q: int, buffers, op: str) -> None:
        for b in buffers:
            w = self.writes.get(id(b))
            if w is None:
                continue
            if not self._synced(q, w[0], w[1]):
                raise EmulatorError(f"queue {q} reads a buffer queue {w[0]} wrote (command {w[1]}) without waiting for "
                                    f"an event recorded after that write (ttnn.wait_for_event({q}, event))", op=op,
                                    rule="cq_read_before_write_done")
            self.reads[id(b)] = (q, self.issued[q])

    def write(self, q: int, buffers, op: str) -> None:
        for b in buffers:
            r = self.reads.get(id(b))
            if r is not None and not self._synced(q, r[0], r[1]):
                raise EmulatorError(f"queue {q} overwrites a buffer queue {r[0]} still reads (command {r[1]}) without "
                                    f"waiting for an event recorded after that read", op=op,
                                    rule="cq_write_before_read_done")
            self.writes[id(b)] = (q, self.issued[q])


def _chips(owner) -> list:
    return owner.devices if isinstance(owner, MeshDevice) else [owner]


def queues_of(device) -> CommandQueues:
    """The queue state of an opened device or mesh (a plain ``open_device`` chip has one queue)."""
    q = getattr(device, "queues", None)
    if q is None:
        q = device.queues = CommandQueues(device, 1)
        register(device)
    return q


def _owner(t):
    """The device or mesh a tensor lives on (None on the host)."""
    if isinstance(t, MeshTensor):
        return t.mesh
    if isinstance(t, Tensor):
        return t.device()
    return None


def _buffers(t) -> list:
    parts = t.tensors if isinstance(t, MeshTensor) else [t]
    return [p._buffer for p in parts]


def _tensors_in(values):
    for v in values:
        if isinstance(v, (Tensor, MeshTensor)):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from _tensors_in(v)


def _addresses(t) -> tuple:
    parts = t.tensors if isinstance(t, MeshTensor) else [t]
    return tuple(p.buffer_address() for p in parts)


# ------------------------------------------------------------------------------------------------------------
# ops: CQ hazards, capture recording

def on_queue(fn, name: str):
    """An op as the command queues see it: hazards checked, and recorded into a trace being captured."""
    @functools.wraps(fn)
    def queued(*args, **kwargs):
        tensors = list(_tensors_in(list(args) + list(kwargs.values())))
        owner = next((o for o in map(_owner, tensors) if o is not None), None)
        queues = getattr(owner, "queues", None) if owner is not None else None
        if queues is None:
            return fn(*args, **kwargs)
        q = queues.queue(kwargs.get("queue_id"), name)
        queues.issue(q)
        queues.read(q, [b for t in tensors for b in _buffers(t)], name)
        cap = queues.capture
        if cap is None or getattr(owner, "replaying", False):
            return fn(*args, **kwargs)
        return _record(cap, owner, fn, name, args, kwargs)

    return queued


def _template(cap: _Capture, value):
    if isinstance(value, (Tensor, MeshTensor)):
        slot = cap.slots.get(id(value))
        if slot is not None and cap.produced[slot] is value:
            return ("slot", slot)
        if id(value) not in cap.external:
            cap.external[id(value)] = (weakref.ref(value), _addresses(value))
        return ("external", id(value))
    if isinstance(value, list):
        return ("list", [_template(cap, v) for v in value])
    if isinstance(value, tuple):
        return ("tuple", tuple(_template(cap, v) for v in value))
    return ("value", value)


def _outputs(result) -> list:
    if isinstance(result, tuple):
        return [r for r in result if isinstance(r, (Tensor, MeshTensor))]
    return [result] if isinstance(result, (Tensor, MeshTensor)) else []


def _record(cap: _Capture, owner, fn, name, args, kwargs):
    arg_t = [_template(cap, a) for a in args]
    kw_t = {k: _template(cap, v) for k, v in kwargs.items()}
    result = fn(*args, **kwargs)
    slots = []
    for out in _outputs(result):
        if id(out) in cap.slots and cap.produced[cap.slots[id(out)]] is out:   # in place: the operand itself
            slots.append(cap.slots[id(out)])
            continue
        slot = len(cap.produced)
        cap.produced.append(out)
        cap.slots[id(out)] = slot
        slots.append(slot)
    cap.records.append((fn, name, arg_t, kw_t, slots, isinstance(result, tuple)))
    cap.commands += 1
    return result


# ------------------------------------------------------------------------------------------------------------
# the trace API

def _capturing_owner(device, op: str):
    if not isinstance(device, (Device, MeshDevice)):
        raise TypeError(f"{op}: expected an opened device or mesh device, got {device!r}")
    return queues_of(device)


def begin_trace_capture(mesh_device, *, cq_id=None) -> int:
    op = "ttnn.begin_trace_capture"
    queues = _capturing_owner(mesh_device, op)
    if queues.capture is not None:
        raise EmulatorError("a trace is already being captured on this device", op=op, rule="trace_nested_capture")
    trace_id = next(queues._ids)
    queues.capture = _Capture(trace_id, queues.queue(cq_id, op))
    for chip in _chips(mesh_device):
        chip.free_listener, chip.alloc_log = queues.capture.freed.add, []
    return trace_id


def end_trace_capture(mesh_device, trace_id, *, cq_id=None) -> None:
    op = "ttnn.end_trace_capture"
    queues = _capturing_owner(mesh_device, op)
    cap = queues.capture
    if cap is None or cap.trace_id != trace_id:
        raise EmulatorError(f"trace {trace_id} is not being captured", op=op, rule="trace_id")
    for i, chip in enumerate(_chips(mesh_device)):
        cap.ranges += [(i, a, s) for a, s in chip.alloc_log]
        chip.free_listener, chip.alloc_log = None, None
    region = getattr(mesh_device, "trace_region_size", 0)
    grid = _chips(mesh_device)[0].spec.grid
    need = trace_command_bytes(cap.commands, grid[0] * grid[1])
    if need > region:
        queues.capture = None
        raise EmulatorError(f"the trace holds {cap.commands} op commands, {need} B at the compiler's cost per command "
                            f"(kernels/trace_region.py); the device was opened with trace_region_size={region}",
                            op=op, rule="trace_region_size")
    cap.end_serial = max(c._serial for c in _chips(mesh_device))
    # the trace keeps its outputs' buffers by address, not their tensors: the caller holds what it needs
    cap.produced = [weakref.ref(t) for t in cap.produced]
    cap.slots = {}
    queues.traces[trace_id] = cap
    queues.capture = None


def execute_trace(mesh_device, trace_id, *, cq_id=None, blocking: bool = True) -> None:
    op = "ttnn.execute_trace"
    queues = _capturing_owner(mesh_device, op)
    cap = queues.traces.get(trace_id)
    if cap is None:
        raise EmulatorError(f"no captured trace {trace_id} (released, or never ended)", op=op, rule="trace_id")
    q = queues.queue(cq_id, op)
    queues.issue(q)
    externals = {}
    for key, (ref, addresses) in cap.external.items():
        t = ref()
        if t is None or not t.is_allocated() or _addresses(t) != addresses:
            now = None if t is None or not t.is_allocated() else _addresses(t)
            raise EmulatorError(f"a tensor the trace reads was at {addresses} at capture and is at {now} now; a trace "
                                "replays fixed addresses: keep inputs and weights allocated where they were, and write "
                                "new inputs into them (copy_host_to_device_tensor, ttnn.copy)", op=op,
                                rule="trace_fixed_input_address")
        externals[key] = t
        queues.read(q, _buffers(t), op)
    live_outputs = {id(t) for t in (r() for r in cap.produced) if t is not None}
    _check_no_overlap(mesh_device, cap, live_outputs, op)
    _replay(mesh_device, cap, externals)


def _check_no_overlap(mesh_device, cap: _Capture, live_outputs: set, op: str) -> None:
    own = {p._buffer.l1_charge for t in (r() for r in cap.produced) if t is not None for p in
           (t.tensors if isinstance(t, MeshTensor) else [t])}
    for chip_index, chip in enumerate(_chips(mesh_device)):
        for charge, address, size in chip.l1_buffers_after(cap.end_serial):
            if charge in own:
                continue
            for c, a, s in cap.ranges:
                if c == chip_index and address < a + s and a < address + size:
                    raise EmulatorError(f"an L1 buffer allocated after capture at [{address}, {address + size}) overlaps "
                                        f"[{a}, {a + s}), which the trace's ops write on replay: it would be corrupted "
                                        "(allocate persistent buffers before capture)", op=op,
                                        rule="trace_buffer_corruption")


def _replay(mesh_device, cap: _Capture, externals: dict) -> None:
    values: dict = {}

    def resolve(tpl):
        kind, v = tpl
        if kind == "slot":
            return values[v]
        if kind == "external":
            return externals[v]
        if kind == "list":
            return [resolve(x) for x in v]
        if kind == "tuple":
            return tuple(resolve(x) for x in v)
        return v

    chips = _chips(mesh_device)
    for chip in chips:
        chip.replaying = True
    if isinstance(mesh_device, MeshDevice):
        mesh_device.replaying = True
    try:
        for fn, _name, arg_t, kw_t, slots, _multi in cap.records:
            result = fn(*[resolve(a) for a in arg_t], **{k: resolve(v) for k, v in kw_t.items()})
            for slot, out in zip(slots, _outputs(result)):
                values[slot] = out
    finally:
        for chip in chips:
            chip.replaying = False
        if isinstance(mesh_device, MeshDevice):
            mesh_device.replaying = False
    for slot, ref in enumerate(cap.produced):
        target = ref()
        if target is None or not target.is_allocated() or slot not in values:
            continue
        src = values[slot]
        for dst_part, src_part in zip(target.tensors if isinstance(target, MeshTensor) else [target],
                                      src.tensors if isinstance(src, MeshTensor) else [src]):
            if dst_part._buffer is not src_part._buffer:
                dst_part._buffer.data = src_part._buffer.data


def release_trace(mesh_device, trace_id) -> None:
    queues = _capturing_owner(mesh_device, "ttnn.release_trace")
    if queues.traces.pop(trace_id, None) is None:
        raise EmulatorError(f"no captured trace {trace_id}", op="ttnn.release_trace", rule="trace_id")


# ------------------------------------------------------------------------------------------------------------
# events

def record_event(mesh_device, cq_id=None, sub_device_ids=(), device_range=None) -> MeshEvent:
    queues = _capturing_owner(mesh_device, "ttnn.record_event")
    q = queues.queue(cq_id, "ttnn.record_event")
    return MeshEvent(q, queues.issue(q), id(mesh_device))


def wait_for_event(cq_id, mesh_event: MeshEvent) -> None:
    """The barrier goes on ``cq_id`` of the device that recorded ``mesh_event``."""
    owner = _event_owners.get(mesh_event.owner_id)
    if owner is None:
        raise EmulatorError("the event's device is closed", op="ttnn.wait_for_event", rule="event_device")
    queues = queues_of(owner)
    q = queues.queue(cq_id, "ttnn.wait_for_event")
    queues.waited[q][mesh_event.cq] = max(queues.waited[q][mesh_event.cq], mesh_event.seq)
    queues.issue(q)


def event_synchronize(mesh_event: MeshEvent) -> None:
    owner = _event_owners.get(mesh_event.owner_id)
    if owner is not None:
        _host_synchronized(queues_of(owner))


_event_owners = weakref.WeakValueDictionary()


def register(device) -> None:
    """Make a newly opened device or mesh known to events (wait_for_event takes only the event)."""
    _event_owners[id(device)] = device


def _host_synchronized(queues: CommandQueues) -> None:
    for t in list(queues.pending_reads):
        queues.pending_reads.discard(t)


def synchronize_device(device, cq_id=None, sub_device_ids=()) -> None:
    if isinstance(device, (Device, MeshDevice)) and getattr(device, "queues", None) is not None:
        _host_synchronized(device.queues)


# ------------------------------------------------------------------------------------------------------------
# host transfers

def _refuse_in_capture(owner, op: str, what: str) -> None:
    queues = getattr(owner, "queues", None) if owner is not None else None
    if queues is not None and queues.capture is not None:
        raise EmulatorError(f"{what} inside trace capture: a trace holds device commands only, no host transfer "
                            "(write inputs before begin_trace_capture, read outputs after execute_trace)", op=op,
                            rule="trace_capture_host_transfer")


def host_transfer(fn, name: str, device_arg: Optional[int] = None, device_kw: Optional[str] = None):
    """``fn`` moves data between host and device: refused inside capture; non-blocking reads tracked."""
    @functools.wraps(fn)
    def transfer(*args, **kwargs):
        device = kwargs.get(device_kw) if device_kw else None
        if device is None and device_arg is not None and len(args) > device_arg:
            device = args[device_arg]
        tensors = list(_tensors_in(list(args) + list(kwargs.values())))
        owner = device if isinstance(device, (Device, MeshDevice)) else next(
            (o for o in map(_owner, tensors) if o is not None), None)
        _refuse_in_capture(owner, name, name.split(".")[-1])
        for t in tensors:
            if _owner(t) is None:
                _check_not_pending(t, name)
        result = fn(*args, **kwargs)
        if name == "ttnn.from_device" and owner is not None and not _blocking(args, kwargs):
            queues_of(owner).pending_reads.add(result)
        return result

    return transfer


def _blocking(args, kwargs) -> bool:
    return bool(kwargs.get("blocking", args[1] if len(args) > 1 else True))


def _check_not_pending(t, op: str) -> None:
    for queues in _all_queues():
        if t in queues.pending_reads:
            raise EmulatorError("this host tensor came from a non-blocking read (from_device(blocking=False)) and is "
                                "read before ttnn.synchronize_device", op=op, rule="read_before_synchronize")


def _all_queues():
    for owner in list(_event_owners.values()):
        q = getattr(owner, "queues", None)
        if q is not None:
            yield q


def copy_host_to_device_tensor(host_tensor, device_tensor, cq_id=None) -> None:
    op = "ttnn.copy_host_to_device_tensor"
    owner = _owner(device_tensor)
    if owner is None:
        raise EmulatorError("device_tensor is on the host; pass the persistent device tensor to write into", op=op,
                            rule="copy_target")
    _refuse_in_capture(owner, op, "copy_host_to_device_tensor")
    hosts = host_tensor.tensors if isinstance(host_tensor, MeshTensor) else [host_tensor] * len(_buffers(device_tensor))
    devs = device_tensor.tensors if isinstance(device_tensor, MeshTensor) else [device_tensor]
    if len(hosts) != len(devs):
        raise EmulatorError(f"host tensor has {len(hosts)} shards, the device tensor {len(devs)}", op=op,
                            rule="copy_shape")
    for h, d in zip(hosts, devs):
        if h.device() is not None:
            raise EmulatorError("host_tensor is on a device", op=op, rule="copy_source")
        if tuple(h.shape) != tuple(d.shape) or h.dtype != d.dtype or h.layout != d.layout:
            raise EmulatorError(f"host {tuple(h.shape)} {h.dtype.name} {h.layout.name} vs device {tuple(d.shape)} "
                                f"{d.dtype.name} {d.layout.name}: host and device tensors must be the same shape, "
                                "have the same datatype, and have the same data layout", op=op, rule="copy_shape")
    queues = queues_of(owner)
    q = queues.queue(cq_id, op)
    queues.issue(q)
    queues.write(q, _buffers(device_tensor), op)
    for h, d in zip(hosts, devs):
        d._buffer.data = h._stored(op).clone().reshape(d._buffer.data.shape)


def copy(input_a, input_b) -> None:
    """``ttnn.copy(input_a, input_b)``: input_b takes input_a's elements, in place (its buffer does not move)."""
    op = "ttnn.copy"
    pairs = list(zip(input_a.tensors if isinstance(input_a, MeshTensor) else [input_a],
                     input_b.tensors if isinstance(input_b, MeshTensor) else [input_b]))
    for a, b in pairs:
        if tuple(a.shape) != tuple(b.shape):
            raise EmulatorError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} differ: both input tensors must be of "
                                "equal shape", op=op, rule="copy_shape")
        if a.dtype != b.dtype:
            raise EmulatorError(f"dtypes {a.dtype.name} and {b.dtype.name} differ (the emulator copies same-dtype "
                                "tensors only)", op=op, rule="copy_dtype")
    owner = _owner(input_b)
    if owner is not None and getattr(owner, "queues", None) is not None:
        owner.queues.issue(0)
        owner.queues.read(0, _buffers(input_a), op)
        owner.queues.write(0, _buffers(input_b), op)
    for a, b in pairs:
        b._buffer.data = a._stored(op).clone().reshape(b._buffer.data.shape)


def allocate_tensor_on_device(*args, tensor_spec=None, mesh_device=None, shape=None, dtype=None, layout=None,
                              memory_config=None):
    """``allocate_tensor_on_device(shape, dtype, layout, mesh_device, memory_config=None)``: an uninitialised
    device tensor (zeros here).  The wheel's other overload, ``(tensor_spec, mesh_device)``, needs ttnn.TensorSpec,
    which the emulator does not model."""
    import torch

    from ..errors import UnsupportedError
    from .operations import to_device
    from .tensor import new_tensor

    op = "ttnn.allocate_tensor_on_device"
    if tensor_spec is not None or len(args) == 2:
        raise UnsupportedError("allocate_tensor_on_device(tensor_spec, mesh_device): ttnn.TensorSpec is not emulated; "
                               "pass shape, dtype, layout, mesh_device, memory_config", op=op, rule="tensor_spec")
    given = dict(zip(("shape", "dtype", "layout", "mesh_device", "memory_config"), args))
    shape, dtype = given.get("shape", shape), given.get("dtype", dtype)
    layout, mesh_device = given.get("layout", layout), given.get("mesh_device", mesh_device)
    memory_config = given.get("memory_config", memory_config)
    queues = getattr(mesh_device, "queues", None)
    host = new_tensor(torch.zeros(tuple(shape)), dtype, layout, None, None, op, "host tensor")
    if isinstance(mesh_device, MeshDevice):
        out = MeshTensor([to_device(host, chip, memory_config) for chip in mesh_device.devices], mesh_device)
    else:
        out = to_device(host, mesh_device, memory_config)
    cap = queues.capture if queues is not None else None
    if cap is not None:
        address = out.buffer_address()
        if address is None or address not in cap.freed:
            out.deallocate()
            raise EmulatorError(f"a buffer allocated inside trace capture at {address}, not an address the capture "
                                "freed: replay would write over it; allocate persistent tensors before "
                                "begin_trace_capture", op=op, rule="trace_capture_allocation")
    return out
