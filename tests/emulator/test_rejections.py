"""Placements and program configs the device refuses: each raises an EmulatorError naming the rule."""

import pytest
import torch

from runtime.emulator.errors import (
    DeallocatedTensorError,
    EmulatorError,
    L1OutOfMemoryError,
    OpInputError,
    PlacementError,
    ProgramConfigError,
)


def grid(ttnn, x, y, x0=0, y0=0):
    return ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(x0, y0), ttnn.CoreCoord(x0 + x - 1, y0 + y - 1))})


def mc(ttnn, layout, gx, gy, sh, sw, orient=None, x0=0, y0=0):
    return ttnn.MemoryConfig(getattr(ttnn.TensorMemoryLayout, layout), ttnn.BufferType.L1,
                             ttnn.ShardSpec(grid(ttnn, gx, gy, x0, y0), [sh, sw],
                                            orient or ttnn.ShardOrientation.ROW_MAJOR))


def put(ttnn, device, shape, memory_config, dtype=None, layout=None):
    return ttnn.from_torch(torch.randn(*shape), dtype=dtype or ttnn.bfloat8_b, layout=layout or ttnn.TILE_LAYOUT,
                           device=device, memory_config=memory_config)


def rule_of(excinfo):
    return excinfo.value.rule


# --- placement -----------------------------------------------------------------------------------

def test_reject_shard_shape_not_tile_aligned(ttnn, device):
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (1, 128, 256), mc(ttnn, "BLOCK_SHARDED", 4, 2, 64, 48))
    assert rule_of(e) == "shard_shape_not_tile_aligned" and "[64, 48]" in str(e.value)


def test_reject_shard_grid_outside_device(ttnn, device):
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (1, 32 * 8, 64), mc(ttnn, "HEIGHT_SHARDED", 1, 8, 32, 64))  # y up to 7 on an 8x7 grid
    assert rule_of(e) == "shard_grid_outside_device" and "(8, 7)" in str(e.value)


def test_reject_height_shard_width(ttnn, device):
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (4, 64, 128), mc(ttnn, "HEIGHT_SHARDED", 4, 1, 64, 64))
    assert rule_of(e) == "height_shard_width"


def test_reject_width_shard_height(ttnn, device):
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (2, 64, 128), mc(ttnn, "WIDTH_SHARDED", 4, 1, 64, 32))
    assert rule_of(e) == "width_shard_height"


def test_reject_shard_coverage(ttnn, device):
    # 2D view 256 x 256: block shards of 64 x 64 need 4 x 4 cores, grid is 4 x 2
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (1, 256, 256), mc(ttnn, "BLOCK_SHARDED", 4, 2, 64, 64))
    assert rule_of(e) == "shard_coverage"
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (8, 64, 64), mc(ttnn, "HEIGHT_SHARDED", 4, 1, 64, 64))  # 8 shards, 4 cores
    assert rule_of(e) == "shard_coverage"


def test_reject_shard_coverage_col_major_swaps_axes(ttnn, device):
    # COL_MAJOR block sharding spreads tensor columns along y: 2 x 4 grid fits 4 shard rows x 2 shard columns
    ok = mc(ttnn, "BLOCK_SHARDED", 4, 2, 64, 64, ttnn.ShardOrientation.COL_MAJOR)
    put(ttnn, device, (1, 256, 128), ok)
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (1, 128, 256), ok)
    assert rule_of(e) == "shard_coverage"


def test_reject_shard_spec_missing(ttnn, device):
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (1, 64, 64), ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    assert rule_of(e) == "shard_spec_missing"


def test_reject_layout_for_block_float(ttnn, device):
    with pytest.raises(PlacementError) as e:
        ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat8_b, layout=ttnn.ROW_MAJOR_LAYOUT)
    assert rule_of(e) == "layout_for_block_float"


def test_reject_block_shard_grid_not_rectangle(ttnn, device):
    crs = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 0)),
                             ttnn.CoreRange(ttnn.CoreCoord(0, 1), ttnn.CoreCoord(0, 1))})
    m = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
                          ttnn.ShardSpec(crs, [32, 32], ttnn.ShardOrientation.ROW_MAJOR))
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (1, 64, 64), m)
    assert rule_of(e) == "block_shard_grid_not_rectangle"


def test_reject_interleaved_with_shard_spec(ttnn, device):
    m = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.INTERLEAVED, ttnn.BufferType.L1,
                          ttnn.ShardSpec(grid(ttnn, 1, 1), [32, 32], ttnn.ShardOrientation.ROW_MAJOR))
    with pytest.raises(PlacementError) as e:
        put(ttnn, device, (32, 32), m)
    assert rule_of(e) == "interleaved_with_shard_spec"


def test_reject_use_after_deallocate(ttnn, device):
    t = put(ttnn, device, (64, 64), ttnn.L1_MEMORY_CONFIG)
    ttnn.deallocate(t)
    with pytest.raises(DeallocatedTensorError) as e:
        ttnn.add(t, t)
    assert rule_of(e) == "use_after_deallocate"


def test_reject_device_open(ttnn, device):
    t = put(ttnn, device, (32, 32), ttnn.L1_MEMORY_CONFIG)
    ttnn.close_device(device)
    with pytest.raises(EmulatorError) as e:
        ttnn.add(t, t)
    assert rule_of(e) == "device_open"


# --- 2D multicast matmul (reference QKV-like, batch 2 on an 8 x 2 grid) ------------------------------

def mcast_cfg(ttnn, **over):
    kw = dict(compute_with_storage_grid_size=(8, 2), in0_block_w=4, out_subblock_h=1, out_subblock_w=6,
              per_core_M=12, per_core_N=12, transpose_mcast=False)
    kw.update(over)
    return ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(**kw)


@pytest.fixture
def qkv_operands(ttnn, device):
    x = put(ttnn, device, (2, 384, 1024), mc(ttnn, "BLOCK_SHARDED", 8, 2, 384, 128))
    w = put(ttnn, device, (1024, 3072), ttnn.DRAM_MEMORY_CONFIG)
    out = mc(ttnn, "BLOCK_SHARDED", 8, 2, 384, 384)
    return x, w, out


def test_mcast_reference_config_is_accepted(ttnn, qkv_operands):
    x, w, out = qkv_operands
    y = ttnn.linear(x, w, program_config=mcast_cfg(ttnn), memory_config=out, dtype=ttnn.bfloat8_b)
    assert y.memory_config() == out


@pytest.mark.parametrize("over,rule", [
    (dict(per_core_M=6, compute_with_storage_grid_size=(8, 4)), "per_core_M_vs_shard_height"),
    (dict(in0_block_w=3), "k_tiles_divisible_by_in0_block_w"),
    (dict(out_subblock_h=2, out_subblock_w=6, per_core_M=12), "out_subblock_fits_dest"),
    (dict(out_subblock_h=5, out_subblock_w=1), "per_core_M_divisible_by_out_subblock_h"),
    (dict(out_subblock_w=5), "per_core_N_divisible_by_out_subblock_w"),
    (dict(compute_with_storage_grid_size=(9, 2)), "program_grid_outside_device"),
    (dict(per_core_N=6, out_subblock_w=6), "per_core_N_covers_N"),
    (dict(transpose_mcast=True, per_core_N=48), "shard_orientation_vs_transpose_mcast"),
    (dict(in0_block_w=8), "shard_width_vs_in0_block_w"),
    (dict(out_subblock_h=2, out_subblock_w=4, per_core_N=12), "sharded_output_subblock"),
])
def test_reject_mcast_matmul_rules(ttnn, qkv_operands, over, rule):
    x, w, out = qkv_operands
    with pytest.raises(ProgramConfigError) as e:
        ttnn.linear(x, w, program_config=mcast_cfg(ttnn, **over), memory_config=out, dtype=ttnn.bfloat8_b)
    assert rule_of(e) == rule, str(e.value)
    assert "ttnn.linear" in str(e.value)


def test_reject_in0_shard_grid_vs_program_grid(ttnn, device):
    x = put(ttnn, device, (2, 384, 1024), mc(ttnn, "BLOCK_SHARDED", 8, 2, 384, 128, y0=2))  # rows 2..3
    w = put(ttnn, device, (1024, 3072), ttnn.DRAM_MEMORY_CONFIG)
    with pytest.raises(ProgramConfigError) as e:
        ttnn.linear(x, w, program_config=mcast_cfg(ttnn), memory_config=ttnn.L1_MEMORY_CONFIG)
    assert rule_of(e) == "in0_shard_grid_vs_program_grid"


def test_reject_per_core_M_covers_M(ttnn, device):
    x = put(ttnn, device, (4, 64, 256), ttnn.DRAM_MEMORY_CONFIG)  # M = 8 tiles, interleaved in0
    w = put(ttnn, device, (256, 256), ttnn.DRAM_MEMORY_CONFIG)
    cfg = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(8, 2), in0_block_w=2, out_subblock_h=1, out_subblock_w=1, per_core_M=2,
        per_core_N=1, transpose_mcast=False)
    with pytest.raises(ProgramConfigError) as e:
        ttnn.linear(x, w, program_config=cfg)
    assert rule_of(e) == "per_core_M_covers_M" and "8 tiles" in str(e.value)


def test_reject_in0_shard_columns_vs_grid(ttnn, device):
    # K split in 8 shard columns but N = 3072 / (per_core_N 24 tiles) only spans 4 grid columns
    x = put(ttnn, device, (2, 384, 1024), mc(ttnn, "BLOCK_SHARDED", 8, 2, 384, 128))
    w = put(ttnn, device, (1024, 3072), ttnn.DRAM_MEMORY_CONFIG)
    with pytest.raises(ProgramConfigError) as e:
        ttnn.linear(x, w, program_config=mcast_cfg(ttnn, per_core_N=24), memory_config=ttnn.L1_MEMORY_CONFIG)
    assert rule_of(e) == "in0_shard_columns_vs_grid"


def test_reject_output_shard_shape(ttnn, qkv_operands):
    x, w, _ = qkv_operands
    with pytest.raises(ProgramConfigError) as e:
        ttnn.linear(x, w, program_config=mcast_cfg(ttnn),
                    memory_config=mc(ttnn, "BLOCK_SHARDED", 8, 2, 384, 192), dtype=ttnn.bfloat8_b)
    assert rule_of(e) == "output_shard_shape"


def test_reject_output_must_be_block_sharded(ttnn, qkv_operands):
    x, w, _ = qkv_operands
    with pytest.raises(ProgramConfigError) as e:
        ttnn.linear(x, w, program_config=mcast_cfg(ttnn), memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    assert rule_of(e) in ("output_must_be_block_sharded", "output_matches_input_placement")


def test_reject_bias_shape(ttnn, qkv_operands, device):
    x, w, out = qkv_operands
    bias = put(ttnn, device, (1, 1, 1, 1024), ttnn.DRAM_MEMORY_CONFIG)
    with pytest.raises(OpInputError) as e:
        ttnn.linear(x, w, bias=bias, program_config=mcast_cfg(ttnn), memory_config=out)
    assert rule_of(e) == "bias_shape"


# --- batched reuse matmul (Q x K^T) ------------------------------------------------------------------

def reuse_cfg(ttnn, **over):
    kw = dict(compute_with_storage_grid_size=(8, 2), in0_block_w=2, out_subblock_h=1, out_subblock_w=6,
              per_core_M=24, per_core_N=12)
    kw.update(over)
    return ttnn.MatmulMultiCoreReuseProgramConfig(**kw)


@pytest.fixture
def qk_operands(ttnn, device):
    q = put(ttnn, device, (2, 16, 384, 64), mc(ttnn, "HEIGHT_SHARDED", 8, 2, 768, 64))
    k = put(ttnn, device, (2, 16, 64, 384), mc(ttnn, "HEIGHT_SHARDED", 8, 2, 128, 384))
    return q, k


def test_reuse_reference_config_is_accepted(ttnn, qk_operands):
    q, k = qk_operands
    s = ttnn.matmul(q, k, program_config=reuse_cfg(ttnn), memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG,
                    dtype=ttnn.bfloat16)
    assert s.memory_config().shard_spec.shape == [768, 384]


@pytest.mark.parametrize("over,rule", [
    (dict(per_core_N=6), "per_core_N_equals_N"),
    (dict(in0_block_w=1), "in0_shard_width_vs_in0_block_w"),
    (dict(per_core_M=36, out_subblock_h=1), "per_core_M_vs_M"),
    (dict(per_core_M=12), "per_core_M_vs_shard_height"),
])
def test_reject_reuse_matmul_rules(ttnn, qk_operands, over, rule):
    q, k = qk_operands
    with pytest.raises(ProgramConfigError) as e:
        ttnn.matmul(q, k, program_config=reuse_cfg(ttnn, **over), memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    assert rule_of(e) == rule, str(e.value)


def test_reject_batch_broadcast_unsupported(ttnn, device):
    a = put(ttnn, device, (2, 1, 64, 64), ttnn.DRAM_MEMORY_CONFIG)
    b = put(ttnn, device, (1, 1, 64, 64), ttnn.DRAM_MEMORY_CONFIG)
    with pytest.raises(ProgramConfigError) as e:
        ttnn.matmul(a, b, program_config=reuse_cfg(ttnn, in0_block_w=2, per_core_M=2, per_core_N=2,
                                                   out_subblock_w=2))
    assert rule_of(e) == "batch_broadcast_unsupported"


def test_reject_bias_unsupported(ttnn, qk_operands, device):
    q, k = qk_operands
    bias = put(ttnn, device, (1, 1, 1, 384), ttnn.DRAM_MEMORY_CONFIG)
    with pytest.raises(ProgramConfigError) as e:
        ttnn.linear(q, k, bias=bias, program_config=reuse_cfg(ttnn))
    assert rule_of(e) == "bias_unsupported"


# --- layer norm / softmax / heads ------------------------------------------------------------------

def ln_cfg(ttnn, **over):
    kw = dict(compute_with_storage_grid_size=(8, 2), subblock_w=4, block_h=12, block_w=4, inplace=True)
    kw.update(over)
    return ttnn.LayerNormShardedMultiCoreProgramConfig(**kw)


@pytest.fixture
def hidden(ttnn, device):
    m = mc(ttnn, "BLOCK_SHARDED", 8, 2, 384, 128)
    return put(ttnn, device, (2, 384, 1024), m), put(ttnn, device, (2, 384, 1024), m), m


@pytest.mark.parametrize("over,rule", [
    (dict(block_h=6), "block_h_vs_shard_height"),
    (dict(block_w=8, subblock_w=4), "block_w_vs_shard_width"),
    (dict(subblock_w=3), "block_w_divisible_by_subblock_w"),
    (dict(compute_with_storage_grid_size=(9, 2)), "program_grid_outside_device"),
])
def test_reject_layer_norm_rules(ttnn, hidden, over, rule):
    x, r, m = hidden
    with pytest.raises(ProgramConfigError) as e:
        ttnn.layer_norm(x, residual_input_tensor=r, memory_config=m, program_config=ln_cfg(ttnn, **over))
    assert rule_of(e) == rule, str(e.value)


def test_reject_residual_shard_spec(ttnn, hidden, device):
    x, _, m = hidden
    r = put(ttnn, device, (2, 384, 1024), ttnn.L1_MEMORY_CONFIG)
    with pytest.raises(ProgramConfigError) as e:
        ttnn.layer_norm(x, residual_input_tensor=r, memory_config=m, program_config=ln_cfg(ttnn))
    assert rule_of(e) == "residual_shard_spec"


def test_reject_sharded_input_needs_sharded_config(ttnn, hidden):
    x, r, m = hidden
    with pytest.raises(ProgramConfigError) as e:
        ttnn.layer_norm(x, residual_input_tensor=r, memory_config=m)
    assert rule_of(e) == "sharded_input_needs_sharded_config"


@pytest.fixture
def scores(ttnn, device):
    s = put(ttnn, device, (2, 16, 384, 384), mc(ttnn, "HEIGHT_SHARDED", 8, 2, 768, 384), dtype=ttnn.bfloat16)
    mask = ttnn.from_torch(torch.zeros(2, 1, 12, 32), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT,
                           device=device, memory_config=ttnn.L1_MEMORY_CONFIG)
    return s, mask


def sm_cfg(ttnn, **over):
    kw = dict(compute_with_storage_grid_size=(8, 2), subblock_w=6, block_h=24, block_w=12)
    kw.update(over)
    return ttnn.SoftmaxShardedMultiCoreProgramConfig(**kw)


@pytest.mark.parametrize("over,rule", [
    (dict(block_w=6), "block_w_equals_row_width"),
    (dict(compute_with_storage_grid_size=(8, 1)), "shards_vs_program_grid"),
    (dict(subblock_w=5), "block_w_divisible_by_subblock_w"),
])
def test_reject_softmax_rules(ttnn, scores, over, rule):
    s, mask = scores
    with pytest.raises(ProgramConfigError) as e:
        ttnn.scale_mask_softmax_in_place(s, 0.125, mask, program_config=sm_cfg(ttnn, **over))
    assert rule_of(e) == rule, str(e.value)


def test_softmax_reference_config_is_accepted(ttnn, scores):
    s, mask = scores
    assert ttnn.scale_mask_softmax_in_place(s, 0.125, mask, program_config=sm_cfg(ttnn)) is s


def test_reject_mask_shape(ttnn, scores, device):
    s, _ = scores
    bad = ttnn.from_torch(torch.zeros(2, 1, 1, 384), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT,
                          device=device, memory_config=ttnn.L1_MEMORY_CONFIG)
    with pytest.raises(OpInputError) as e:
        ttnn.scale_mask_softmax_in_place(s, 0.125, bad, program_config=sm_cfg(ttnn))
    assert rule_of(e) == "mask_shape"


def test_reject_shard_height_equals_seq(ttnn, device):
    qkv = put(ttnn, device, (2, 384, 3072), mc(ttnn, "BLOCK_SHARDED", 8, 4, 192, 384))
    with pytest.raises(ProgramConfigError) as e:
        ttnn.transformer.split_query_key_value_and_split_heads(qkv, num_heads=16, transpose_key=True)
    assert rule_of(e) == "shard_height_equals_seq"


def test_reject_grid_vs_head_groups(ttnn, device):
    # 3072 / 768 = 4 shard columns but the grid is 8 wide (only 4 used): not the core-local layout
    qkv = put(ttnn, device, (2, 384, 3072), mc(ttnn, "BLOCK_SHARDED", 8, 2, 384, 768))
    with pytest.raises(ProgramConfigError) as e:
        ttnn.transformer.split_query_key_value_and_split_heads(qkv, num_heads=16, transpose_key=True)
    assert rule_of(e) == "grid_vs_head_groups"


# --- memory --------------------------------------------------------------------------------------

def test_reject_l1_capacity(ttnn, small_device):
    # 64 KiB per core: a 256 x 256 bf16 tensor interleaved over 4 cores = 16 tiles per core = 32 KiB: fits once
    a = put(ttnn, small_device, (256, 256), ttnn.L1_MEMORY_CONFIG, dtype=ttnn.bfloat16)
    b = put(ttnn, small_device, (256, 256), ttnn.L1_MEMORY_CONFIG, dtype=ttnn.bfloat16)
    assert small_device.l1_allocated_bytes_per_core() == 65536
    with pytest.raises(L1OutOfMemoryError) as e:
        put(ttnn, small_device, (32, 32), ttnn.L1_MEMORY_CONFIG, dtype=ttnn.bfloat16)
    assert rule_of(e) == "l1_capacity" and "65536" in str(e.value)
    assert small_device.l1_allocated_bytes_per_core() == 65536  # failed allocation charged nothing
    del a, b
