"""Linear and matmul: the 2D multicast config for block-sharded linears and the reuse config for
batched attention matmuls. Legality rules are those TT-NN enforces on device (reference §3).

Circular buffers (what each program factory allocates per core; tt-metal sources, facts only):
- `linear_cbs`, MatmulMultiCoreReuseMultiCastProgramConfig: ttnn/cpp/ttnn/operations/matmul/device/factory/
  matmul_multicore_reuse_mcast_2d_program_factory.cpp, reuse_mcast_optimized_helpers::create_program_mcast_in0_in1.
  c_0 in0 block (per_core_M x in0_block_w tiles) and c_1 in1 block (per_core_N x in0_block_w), both doubled
  (MCAST_INPUT_BUFFERING_DEPTH = 2) when there is more than one K block; c_2 is the block-sharded in0 shard
  itself (globally allocated); c_6 a 64 B scratch for block-sharded in0; c_3 bias, per_core_N tiles; c_4 the
  output, on the sharded output buffer; c_5 the partials (per_core_M x per_core_N tiles) shares c_4 unless its
  format differs: packer L1 accumulation (packer_l1_acc with a bias and > 1 K block, or > 2 K blocks) packs the
  partials as Float16_b (Float32 with fp32_dest_acc_en), which then takes a CB of its own.
- `batched_cbs`, MatmulMultiCoreReuseProgramConfig: .../factory/matmul_multicore_reuse_optimized_program_factory.cpp,
  MatmulMultiCoreReuseOptimizedProgramFactory::create_descriptor. Sharded in0 / in1 / output CBs sit on their
  tensors' buffers; unsharded ones are double-buffered blocks; c_5 shares c_4 unless its format differs
  (packer L1 accumulation needs > 2 K blocks here).
"""
from __future__ import annotations

from .common import (MAX_SUBBLOCK_TILES, CircularBuffer, ProgramConfig, choose_subblock, intermediate_format, require,
                     tile_bytes)

MCAST_INPUT_BUFFERING_DEPTH = 2   # tt-metal matmul utilities: in0/in1 CBs double-buffer across K blocks

MULTICAST = "MatmulMultiCoreReuseMultiCastProgramConfig"
REUSE = "MatmulMultiCoreReuseProgramConfig"

ATTENTION_ROLES = ("attention_scores", "attention_context")
# ttnn's matmul validation for a sharded output: a subblock spans the shard's full width or is one tile high.
SHARDED_SUBBLOCK_RULE = "sharded output: out_subblock_w == per_core_N or out_subblock_h == 1"


def attention_kn(role: str, *, seq: int, head_dim: int) -> tuple[int, int]:
    """K and N of a batched attention matmul, in the units given (elements or tiles): the scores are
    Q [S, D] x K^T [D, S] (K = head_dim, N = seq), the context is probs [S, S] x V [S, D] (K = seq, N = head_dim)."""
    return (head_dim, seq) if role == "attention_scores" else (seq, head_dim)


def sharded_subblock_ok(out_subblock_h: int, out_subblock_w: int, per_core_n: int) -> bool:
    return out_subblock_w == per_core_n or out_subblock_h == 1


def _subblock(per_core_m: int, per_core_n: int, override: dict, limit: int) -> tuple[int, int]:
    h, w = choose_subblock(per_core_m, per_core_n, limit)
    return override.get("out_subblock_h", h), override.get("out_subblock_w", w)


def check_common(cfg: dict, k_tiles: int, key: str, max_subblock: int = MAX_SUBBLOCK_TILES) -> None:
    """max_subblock: destination-register tiles (kernels/compute.py: 4 with fp32 accumulation, else 8)."""
    m, n = cfg["per_core_M"], cfg["per_core_N"]
    h, w, kb = cfg["out_subblock_h"], cfg["out_subblock_w"], cfg["in0_block_w"]
    require(m % h == 0, "per_core_M % out_subblock_h == 0", f"per_core_M={m}, out_subblock_h={h}", f"{key}.out_subblock_h")
    require(n % w == 0, "per_core_N % out_subblock_w == 0", f"per_core_N={n}, out_subblock_w={w}", f"{key}.out_subblock_w")
    require(k_tiles % kb == 0, "K tiles % in0_block_w == 0", f"K={k_tiles} tiles, in0_block_w={kb}", f"{key}.in0_block_w")
    fp32 = " (fp32_dest_acc_en)" if max_subblock < MAX_SUBBLOCK_TILES else ""
    require(h * w <= max_subblock, f"out_subblock_h * out_subblock_w <= {max_subblock}{fp32}",
            f"{h} x {w} = {h * w}", f"{key}.out_subblock_w")
    require(sharded_subblock_ok(h, w, n), SHARDED_SUBBLOCK_RULE, f"out_subblock {h} x {w}, per_core_N={n}",
            f"{key}.out_subblock_h")


def linear_config(*, m_tiles: int, k_tiles: int, n_tiles: int, grid: tuple[int, int], hidden_cores: int,
                  batch_cores: int, transpose_mcast: bool, activation: str | None, override: dict, key: str,
                  max_subblock: int = MAX_SUBBLOCK_TILES) -> ProgramConfig:
    """Block-sharded linear: rows of cores carry the batch, columns split N (and K, the input shard width)."""
    require(n_tiles % hidden_cores == 0, "N tiles split evenly across hidden cores",
            f"N={n_tiles} tiles over {hidden_cores} cores", "activation_grid.hidden_cores")
    require(k_tiles % hidden_cores == 0, "K tiles split evenly across hidden cores (input shard width)",
            f"K={k_tiles} tiles over {hidden_cores} cores", "activation_grid.hidden_cores")
    require(m_tiles % batch_cores == 0, "M tiles split evenly across batch cores",
            f"M={m_tiles} tiles over {batch_cores} cores", "activation_grid")
    per_m, per_n = m_tiles // batch_cores, n_tiles // hidden_cores
    sub_h, sub_w = _subblock(per_m, per_n, override, max_subblock)
    fields = dict(compute_with_storage_grid_size=grid, in0_block_w=override.get("in0_block_w", k_tiles // hidden_cores),
                  out_subblock_h=sub_h, out_subblock_w=sub_w, per_core_M=per_m, per_core_N=per_n,
                  transpose_mcast=transpose_mcast, fused_activation=activation)
    check_common(fields, k_tiles, key, max_subblock)
    require((k_tiles // hidden_cores) % fields["in0_block_w"] == 0, "input shard width % in0_block_w == 0",
            f"shard width {k_tiles // hidden_cores} tiles, in0_block_w={fields['in0_block_w']}", f"{key}.in0_block_w")
    rows, cols = (grid[0], grid[1]) if transpose_mcast else (grid[1], grid[0])
    require(per_m * rows >= m_tiles, "per_core_M x grid rows covers M", f"{per_m} x {rows} < {m_tiles}", "activation_grid")
    require(per_n * cols >= n_tiles, "per_core_N x grid columns covers N", f"{per_n} x {cols} < {n_tiles}", "activation_grid")
    return ProgramConfig(MULTICAST, fields)


def batched_config(*, rows_per_head_tiles: int, heads_per_core: int, k_tiles: int, n_tiles: int,
                   grid: tuple[int, int], total_m_tiles: int, override: dict, key: str,
                   max_subblock: int = MAX_SUBBLOCK_TILES) -> ProgramConfig:
    """Height-sharded batched matmul: each core owns whole heads (rows) and all of N."""
    per_m = rows_per_head_tiles * heads_per_core
    # Each head is its own matmul: a subblock must tile one head's rows, not just the core's.
    sub_h, sub_w = _subblock(rows_per_head_tiles, n_tiles, override, max_subblock)
    fields = dict(compute_with_storage_grid_size=grid, in0_block_w=override.get("in0_block_w", k_tiles),
                  out_subblock_h=sub_h, out_subblock_w=sub_w, per_core_M=per_m, per_core_N=n_tiles)
    check_common(fields, k_tiles, key, max_subblock)
    require(rows_per_head_tiles % sub_h == 0, "rows per head % out_subblock_h == 0",
            f"{rows_per_head_tiles} rows per head, out_subblock_h={sub_h}", f"{key}.out_subblock_h")
    cores = grid[0] * grid[1]
    require(per_m * cores == total_m_tiles, "per_core_M x cores covers batch x heads x rows",
            f"{per_m} x {cores} != {total_m_tiles}", "activation_grid")
    return ProgramConfig(REUSE, fields)


def _partials_format(packer_l1_acc_en: bool, fp32_dest_acc_en: bool, out_dtype: str) -> str:
    if packer_l1_acc_en:
        return intermediate_format(fp32_dest_acc_en)
    return "float32" if fp32_dest_acc_en else out_dtype


def linear_cbs(cfg: dict, *, k_tiles: int, in0_dtype: str, in1_dtype: str, out_dtype: str, bias_dtype: str | None,
               fp32_dest_acc_en: bool, packer_l1_acc: bool, in0_shard_width_tiles: int | None = None,
               out_sharded: bool = True) -> list[CircularBuffer]:
    """CBs of a 2D-multicast linear (batch folded into M, so B = 1); weights stream from DRAM (c_1 never aliases).
    in0_shard_width_tiles: the block-sharded input's shard width (None: interleaved input)."""
    m, n, kb = cfg["per_core_M"], cfg["per_core_N"], cfg["in0_block_w"]
    num_blocks = k_tiles // kb
    depth = MCAST_INPUT_BUFFERING_DEPTH if num_blocks > 1 else 1
    l1_acc = packer_l1_acc and ((bias_dtype is not None and num_blocks > 1) or num_blocks > 2)
    partials = _partials_format(l1_acc, fp32_dest_acc_en, out_dtype)
    cbs = [CircularBuffer(0, "in0", m * kb * depth, tile_bytes(in0_dtype)),
           CircularBuffer(1, "in1", n * kb * depth, tile_bytes(in1_dtype))]
    if in0_shard_width_tiles is not None:
        cbs += [CircularBuffer(2, "in0_shard", m * in0_shard_width_tiles, tile_bytes(in0_dtype), aliases="input"),
                CircularBuffer(6, "l1_scratch", 1, 64)]
    if bias_dtype is not None:
        cbs.append(CircularBuffer(3, "bias", n, tile_bytes(bias_dtype)))
    out = CircularBuffer(4, "out", m * n, tile_bytes(out_dtype), aliases="output" if out_sharded else None)
    cbs.append(out)
    if partials != out_dtype:
        cbs.append(CircularBuffer(5, "partials", m * n, tile_bytes(partials)))
    return sorted(cbs, key=lambda cb: cb.index)


def batched_cbs(cfg: dict, *, k_tiles: int, in0_dtype: str, in1_dtype: str, out_dtype: str, fp32_dest_acc_en: bool,
                packer_l1_acc: bool, in0_sharded: bool = True, in1_sharded: bool = True,
                out_sharded: bool = True) -> list[CircularBuffer]:
    """CBs of a height-sharded batched matmul (attention scores and context)."""
    m, n, kb = cfg["per_core_M"], cfg["per_core_N"], cfg["in0_block_w"]
    num_blocks = k_tiles // kb
    partials = _partials_format(packer_l1_acc and num_blocks > 2, fp32_dest_acc_en, out_dtype)
    cbs = [CircularBuffer(0, "in0", m * k_tiles if in0_sharded else m * kb * 2, tile_bytes(in0_dtype),
                          aliases="input_a" if in0_sharded else None),
           CircularBuffer(1, "in1", n * kb * (num_blocks if in1_sharded else 2), tile_bytes(in1_dtype),
                          aliases="input_b" if in1_sharded else None),
           CircularBuffer(4, "out", m * n, tile_bytes(out_dtype), aliases="output" if out_sharded else None)]
    if partials != out_dtype:
        cbs.append(CircularBuffer(5, "partials", m * n, tile_bytes(partials)))
    return cbs
