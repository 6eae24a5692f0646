"""The L1 plan: every buffer of one forward pass at the address tt-metal's allocator gives it, and every op's
circular-buffer region checked against the lowest buffer, before anything runs.

The program's allocation order is replayed exactly: L1 weights (at weights_to_device), the inputs in
prepare_inputs' order, then each op's outputs as it runs, with the frees the emitted program makes before and
after it (compiler/lower.py plan_buffers decides them). kernels/allocator.py places the buffers; the op family's
module sizes the CBs (compiler/circular_buffers.py). `reserve_before_qkv` replays the reference's trick
(metal_BERT_large_11 mha.py: `ttnn.empty` of RESERVE_SPLIT_HEADS_SHAPE in L1 before the fused QKV matmul,
deallocated right after it) so the plan can be compared with and without it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kernels.allocator import ALIGNMENT, L1Allocator, L1OutOfMemory, cb_region
from kernels.common import cb_bytes, l1_bytes_per_core

from .circular_buffers import op_circular_buffers

# prepare_inputs (compiler/templates/program.py.jinja) creates the device inputs in this order.
INPUT_ORDER = ("input_ids", "token_type_ids", "position_ids")


@dataclass
class OpL1:
    """One op's L1 while it runs."""
    name: str
    cbs: list | None                # kernels.common.CircularBuffer list; None: this op family's CBs are not modelled
    buffers: list[dict]             # the outputs it allocates: {value, address, bytes}
    lowest_buffer: int | None       # lowest occupied L1 address while it runs
    cb_end: int                     # top of its CB region
    headroom: int                   # free L1 between the CB region and the lowest buffer
    live_bytes: int                 # L1 held by buffers while it runs
    largest_free: int               # largest free block while it runs (fragmentation shows here)

    @property
    def cb_bytes(self) -> int:
        return cb_bytes(self.cbs) if self.cbs else 0

    @property
    def buffer_bytes(self) -> int:
        return sum(b["bytes"] for b in self.buffers)

    def as_dict(self) -> dict:
        return {"cb_bytes_per_core": self.cb_bytes if self.cbs is not None else None,
                "circular_buffers": [cb.as_dict() for cb in self.cbs] if self.cbs is not None else None,
                "buffer_bytes_per_core": self.buffer_bytes, "buffers": self.buffers,
                "lowest_buffer_address": self.lowest_buffer, "cb_region_end": self.cb_end,
                "l1_headroom_bytes": self.headroom, "live_buffer_bytes_per_core": self.live_bytes,
                "largest_free_block_bytes": self.largest_free}


@dataclass
class L1Plan:
    l1_bytes: int
    base: int
    ops: list[OpL1] = field(default_factory=list)
    reserve_before_qkv: bool = False
    error: dict | None = None       # {"op", "kind": "clash" | "out_of_memory", "detail", "key"} of the first failure

    @property
    def min_headroom(self) -> OpL1 | None:
        return min(self.ops, key=lambda o: o.headroom) if self.ops else None


def _key_for(op, fp32: bool) -> str:
    """The schedule key that most directly shrinks this op's L1."""
    if op.kind == "matmul" and fp32:
        return "compute.attention_matmul.fp32_dest_acc_en"   # Float32 partials take a CB of their own
    if op.kind == "linear" and op.role != "qa":
        return f"overrides.{op.role}.in0_block_w"
    if op.kind in ("layer_norm", "scale_mask_softmax") and fp32:
        return f"compute.{'layernorm' if op.kind == 'layer_norm' else 'softmax'}.fp32_dest_acc_en"
    if op.role.startswith("attention") or op.role == "split_heads":
        return "placement.attention"
    return "dtypes.activations"


def plan_l1(program_ops, inputs: list[dict], weights, device, *, dtype_of, placement_of, shape_of, weight_dtype,
            layernorm_reduction: dict | None = None, reserve_before_qkv: bool = False) -> L1Plan:
    l1_align, dram_align = ALIGNMENT[device.arch]
    alloc = L1Allocator(l1_bytes=device.l1_bytes_per_core, base=device.l1_unreserved_base, alignment=l1_align,
                        l1_small_size=device.open_device.get("l1_small_size", 0))
    plan = L1Plan(device.l1_bytes_per_core, device.l1_unreserved_base, reserve_before_qkv=reserve_before_qkv)
    banks = device.cores
    address: dict[str, int] = {}       # buffer -> address
    size: dict[str, int] = {}
    buffer_of: dict[str, str] = {}

    def place(buf: str, nbytes: int, op_name: str, key: str) -> bool:
        if not nbytes:
            return True
        try:
            address[buf] = alloc.allocate(nbytes, buf)
        except L1OutOfMemory as e:
            frag = " (fragmented: enough L1 is free, but not in one block)" if e.stats["free"] >= e.size else ""
            plan.error = {"op": op_name, "kind": "out_of_memory", "key": key,
                          "detail": f"{buf} needs {e.size} B per core; {e.stats['free']} B free of "
                                    f"{e.stats['allocatable']}, largest free block {e.stats['largest_free']} B{frag}"}
            return False
        size[buf] = nbytes
        return True

    def release(value: str) -> None:
        buf = buffer_of.get(value, value)
        if buf in address:
            alloc.free(address.pop(buf))

    # weights_to_device moves the non-layer weights first, then every layer's
    for w in sorted(weights, key=lambda w: w.layer is not None):
        buffer_of[w.key] = w.key
        if not place(f"weight:{w.key}:{w.layer}", l1_bytes_per_core(w.shape, w.dtype, w.placement, banks),
                     "weights_to_device", "placement.weights"):
            return plan
    order = sorted(inputs, key=lambda i: ("fill" in i, INPUT_ORDER.index(i["name"]) if i["name"] in INPUT_ORDER else 9))
    for inp in order:
        buffer_of[inp["name"]] = inp["name"]
        if not place(inp["name"], l1_bytes_per_core(tuple(inp["shape"]), inp["dtype"], inp["placement"], banks),
                     "prepare_inputs", "placement.embeddings"):
            return plan

    for op in program_ops:
        cbs = op_circular_buffers(op, dtype_of=dtype_of, placement_of=placement_of, shape_of=shape_of,
                                  weight_dtype=weight_dtype, device=device, layernorm_reduction=layernorm_reduction)
        fp32 = bool(op.compute_config and op.compute_config.fields.get("fp32_dest_acc_en"))
        key = _key_for(op, fp32)
        for v in op.frees_before:
            release(v)
        reserved = None
        if reserve_before_qkv and op.role == "qkv" and op.layer is not None:
            # RESERVE_SPLIT_HEADS_SHAPE: one row-major page the size of the QKV output shard, in L1
            nbytes = l1_bytes_per_core(op.shapes[0], op.dtype, op.output_placements[0], banks)
            if not place(f"{op.name}.reserve", nbytes, op.name, key):
                return plan
            reserved = f"{op.name}.reserve"
        made = []
        for out, shp, p in zip(op.outputs, op.shapes, op.output_placements):
            if op.inplace:
                buffer_of[out] = buffer_of.get(op.inputs[0], op.inputs[0])
                continue
            buffer_of[out] = out
            nbytes = l1_bytes_per_core(shp, op.dtype, p, banks)
            if not place(out, nbytes, op.name, key):
                return plan
            if nbytes:
                made.append({"value": out, "address": address[out], "bytes": nbytes})
        region = cb_region([cb.bytes for cb in cbs or []], base=alloc.base, lowest_buffer=alloc.lowest_occupied,
                           l1_bytes=alloc.base + alloc.size, dram_alignment=dram_align)
        st = alloc.stats()
        plan.ops.append(OpL1(op.name, cbs, made, region.lowest_buffer, region.end, region.headroom, st["allocated"],
                             st["largest_free"]))
        if region.clash:
            plan.error = {"op": op.name, "kind": "clash", "key": key,
                          "detail": f"{region.end - region.base} B of circular buffers span "
                                    f"[{region.base}, {region.end}) but an L1 buffer starts at {region.limit}: "
                                    f"{-region.headroom} B over"}
            return plan
        if reserved:
            alloc.free(address.pop(reserved))
        for v in op.frees:
            release(v)
    return plan
