"""Layernorm with the residual add fused in, on block-sharded activations (in place).

Circular buffers (`layernorm_sharded_cbs`): tt-metal ttnn/cpp/ttnn/operations/normalization/layernorm/device/
multi_core/layernorm_op_multi_core.cpp, layernorm_multi_core_sharded (the 2025 version with use_welford and the
pre/post all-gather stages). c_0 input, c_1 residual and c_16 output sit on their sharded buffers (in place:
output = input). Intermediates (`cb_data_format`) are Float32 with fp32_dest_acc_en, else Float16_b: c_24 x and
c_18 x - E[x] (block_h x block_w each), c_8 / c_9 / c_15 E[x] partial, E[x], global (block_h each), c_10 the
gathered partials (Kt / block_w, or first + second stage - 1 with the two-stage reduce); without Welford c_2
scaler, c_3 eps, c_4 scaler-c (one Float16_b tile each), c_11 / c_12 the E[x^2] partial and value (block_h),
c_13 their gather and c_20 one row per all-to-all worker (ceil(block_h / blocks)); c_5 gamma and c_6 beta hold
block_w tiles of their own format. Welford doubles the statistics CBs, adds c_22 (transpose) and a reciprocal
table CB on a tensor of its own (not counted here).
"""
from __future__ import annotations

import math

from .common import (MAX_SUBBLOCK_TILES, CircularBuffer, ProgramConfig, intermediate_format, largest_divisor_at_most,
                     require, tile_bytes)

SHARDED = "LayerNormShardedMultiCoreProgramConfig"


def layernorm_config(*, grid: tuple[int, int], block_h: int, block_w: int, override: dict, key: str,
                     max_subblock: int = MAX_SUBBLOCK_TILES, reduction: dict | None = None) -> ProgramConfig:
    """reduction: ttnn 0.81's `legacy_reduction` / `use_welford` fields (None at API v0.55, which lacks them).
    `legacy_rsqrt` is not emitted: the 0.81.1 wheel's docstring says it is deprecated and has no effect."""
    sub_w = override.get("subblock_w", largest_divisor_at_most(block_w, max_subblock))
    require(block_w % sub_w == 0, "block_w % subblock_w == 0", f"block_w={block_w}, subblock_w={sub_w}", f"{key}.subblock_w")
    require(sub_w <= max_subblock, f"subblock_w <= {max_subblock}", f"subblock_w={sub_w}", f"{key}.subblock_w")
    return ProgramConfig(SHARDED, dict(compute_with_storage_grid_size=grid, subblock_w=sub_w, block_h=block_h,
                                       block_w=block_w, inplace=True, **(reduction or {})))


def layernorm_sharded_cbs(*, block_h: int, block_w: int, k_tiles: int, num_blocks: int, in_dtype: str, out_dtype: str,
                          gamma_dtype: str | None, beta_dtype: str | None, fp32_dest_acc_en: bool,
                          has_residual: bool, use_welford: bool = False, rms_norm: bool = False,
                          two_stage: tuple[int, int] | None = None) -> list[CircularBuffer]:
    """num_blocks: cores across the reduced width (grid columns, rows with COL_MAJOR shards); two_stage: (first,
    second) stage block counts when the factory's two-stage reduce applies (single-row 1D multicast only)."""
    single = tile_bytes(intermediate_format(fp32_dest_acc_en))
    bf16 = tile_bytes("float16_b")
    tiles = block_h * block_w
    rows_per_worker = math.ceil(block_h / (two_stage[0] if two_stage else num_blocks))
    stat = block_h * (2 if use_welford else 1)
    external = (sum(two_stage) - 1) if two_stage else math.ceil(k_tiles / block_w)
    external *= 2 if use_welford else 1
    cbs = [CircularBuffer(0, "in0", tiles, tile_bytes(in_dtype), aliases="input")]
    if has_residual:
        cbs.append(CircularBuffer(1, "residual", tiles, tile_bytes(in_dtype), aliases="residual"))
    if gamma_dtype:
        cbs.append(CircularBuffer(5, "gamma", block_w, tile_bytes(gamma_dtype)))
    if beta_dtype:
        cbs.append(CircularBuffer(6, "beta", block_w, tile_bytes(beta_dtype)))
    cbs += [CircularBuffer(24, "x", tiles, single), CircularBuffer(18, "xmm", tiles, single)]
    if not rms_norm:
        cbs += [CircularBuffer(8, "ex_partial", stat, single), CircularBuffer(9, "ex", stat, single),
                CircularBuffer(10, "ex_external", external, single)]
    if not use_welford:
        cbs += [CircularBuffer(2, "scaler", 1, bf16), CircularBuffer(3, "eps", 1, bf16),
                CircularBuffer(4, "scaler_c", 1, bf16), CircularBuffer(11, "ex_partial2", block_h, single),
                CircularBuffer(12, "ex2", block_h, single), CircularBuffer(13, "ex_external2", external, single),
                CircularBuffer(20, "ex2pe", rows_per_worker, single)]
    cbs.append(CircularBuffer(15, "ex_global", stat, single))
    if use_welford:
        cbs.append(CircularBuffer(22, "transpose", stat, single))
    cbs.append(CircularBuffer(16, "out", tiles, tile_bytes(out_dtype), aliases="output"))
    return sorted(cbs, key=lambda cb: cb.index)
