"""Circular buffers of the emulated ops, sized by the op families' modules in kernels/ (the ones the compiler's
plan uses), and tt-metal's CB-region rule (impl/program/program.cpp): a program's CBs, laid out up from the
allocator's base, must end below the lowest L1 buffer. An op that breaks it raises L1OutOfMemoryError
(rule "cb_clash") as the chip would refuse the program.
"""
from __future__ import annotations

from kernels import attention, data_movement, layernorm, matmul, softmax
from kernels.allocator import ALIGNMENT, cb_region
from kernels.common import TILE

from ..errors import L1OutOfMemoryError
from .types import ShardOrientation, TensorMemoryLayout


def _dt(dtype) -> str:
    return dtype.name.lower()


def _shard(t):
    mc = t.memory_config()
    return mc.shard_spec if mc.is_sharded() else None


def check(op: str, device, cbs) -> None:
    alloc = device.l1_allocator
    region = cb_region([cb.bytes for cb in cbs], base=alloc.base, lowest_buffer=alloc.lowest_occupied,
                       l1_bytes=alloc.base + alloc.size, dram_alignment=ALIGNMENT[device.spec.arch][1])
    if region.clash:
        raise L1OutOfMemoryError(
            f"circular buffers clash with L1 buffers: {region.end - region.base} B of CBs span [{region.base}, "
            f"{region.end}) but an L1 buffer starts at {region.limit} ({-region.headroom} B over) on {device.spec.name}",
            op=op, rule="cb_clash")


def linear(op, device, pc, a, b, bias, out, settings) -> None:
    ss = _shard(a)
    cfg = dict(per_core_M=pc.per_core_M, per_core_N=pc.per_core_N, in0_block_w=pc.in0_block_w)
    check(op, device, matmul.linear_cbs(
        cfg, k_tiles=a.padded_shape[-1] // TILE, in0_dtype=_dt(a.dtype), in1_dtype=_dt(b.dtype), out_dtype=_dt(out.dtype),
        bias_dtype=_dt(bias.dtype) if bias is not None else None, fp32_dest_acc_en=settings.fp32_dest_acc_en,
        packer_l1_acc=settings.packer_l1_acc,
        in0_shard_width_tiles=ss.shape[1] // TILE
        if ss is not None and a.memory_config().memory_layout == TensorMemoryLayout.BLOCK_SHARDED else None,
        out_sharded=out.memory_config().is_sharded()))


def batched(op, device, pc, a, b, out, settings) -> None:
    cfg = dict(per_core_M=pc.per_core_M, per_core_N=pc.per_core_N, in0_block_w=pc.in0_block_w)
    check(op, device, matmul.batched_cbs(
        cfg, k_tiles=a.padded_shape[-1] // TILE, in0_dtype=_dt(a.dtype), in1_dtype=_dt(b.dtype), out_dtype=_dt(out.dtype),
        fp32_dest_acc_en=settings.fp32_dest_acc_en, packer_l1_acc=settings.packer_l1_acc,
        in0_sharded=a.memory_config().is_sharded(), in1_sharded=b.memory_config().is_sharded(),
        out_sharded=out.memory_config().is_sharded()))


def softmax_sharded(op, device, pc, x, mask, settings, numeric_stable: bool, causal: bool) -> None:
    check(op, device, softmax.softmax_cbs(
        block_h=pc.block_h, block_w=pc.block_w, in_dtype=_dt(x.dtype), mask_dtype=_dt(mask.dtype) if mask is not None else None,
        fp32_dest_acc_en=settings.fp32_dest_acc_en, numeric_stable=numeric_stable, causal_mask=causal,
        mask_sharded=mask is not None and mask.memory_config().is_sharded()))


def layernorm_sharded(op, device, pc, a, residual, gamma, beta, out, settings) -> None:
    ss = _shard(a)
    bbox = ss.grid.bounding_box()
    gx, gy = bbox.end.x + 1, bbox.end.y + 1
    height = 1
    for d in a.padded_shape.as_tuple()[:-1]:
        height *= d
    # one shard row: 1D multicast over every core of the shard grid; else cores across the reduced width
    num_blocks = ss.grid.num_cores() if height == ss.shape[0] else (gx if ss.orientation == ShardOrientation.ROW_MAJOR else gy)
    check(op, device, layernorm.layernorm_sharded_cbs(
        block_h=pc.block_h, block_w=pc.block_w, k_tiles=a.padded_shape[-1] // TILE, num_blocks=num_blocks,
        in_dtype=_dt(a.dtype), out_dtype=_dt(out.dtype), gamma_dtype=_dt(gamma.dtype) if gamma is not None else None,
        beta_dtype=_dt(beta.dtype) if beta is not None else None, fp32_dest_acc_en=settings.fp32_dest_acc_en,
        has_residual=residual is not None, use_welford=bool(getattr(pc, "use_welford", False))))


def split_heads(op, device, qkv) -> None:
    ss = _shard(qkv)
    if ss is not None:
        check(op, device, attention.split_heads_cbs(block_ht=ss.shape[0] // TILE, block_wt=ss.shape[1] // TILE,
                                                    dtype=_dt(qkv.dtype)))


def concat_heads(op, device, x, out) -> None:
    ss = _shard(out) or _shard(x)
    if ss is not None:
        check(op, device, attention.concat_heads_cbs(shard_tiles=(ss.shape[0] // TILE) * (ss.shape[1] // TILE),
                                                     dtype=_dt(x.dtype), in_sharded=_shard(x) is not None,
                                                     out_sharded=_shard(out) is not None))


def to_sharded(op, device, x, out) -> None:
    ss = _shard(out)
    if ss is not None and x.layout.name == "TILE":
        check(op, device, data_movement.interleaved_to_sharded_cbs(
            shard_tiles=(ss.shape[0] // TILE) * (ss.shape[1] // TILE), in_dtype=_dt(x.dtype), out_dtype=_dt(out.dtype),
            dram_alignment=ALIGNMENT[device.spec.arch][1]))


def to_interleaved(op, device, x, out) -> None:
    ss = _shard(x)
    if ss is not None and x.layout.name == "TILE":
        check(op, device, data_movement.sharded_to_interleaved_cbs(
            shard_tiles=(ss.shape[0] // TILE) * (ss.shape[1] // TILE), in_dtype=_dt(x.dtype), out_dtype=_dt(out.dtype)))
