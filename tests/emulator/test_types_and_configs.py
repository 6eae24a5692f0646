"""Config classes and value types mirror ttnn 0.81.1 constructors."""

import json
import os
import sys

import pytest

import runtime.emulator as emulator
from runtime.emulator.api_surface import API_CLASSES, API_FUNCTIONS, emulator_api_surface, keywords_of

SURFACE_JSON = os.path.join(os.path.dirname(__file__), "data", "ttnn_0.81.1_api_surface.json")

PROGRAM_CONFIGS = {
    "MatmulMultiCoreReuseMultiCastProgramConfig": dict(
        compute_with_storage_grid_size=(8, 7), in0_block_w=4, out_subblock_h=1, out_subblock_w=6, per_core_M=12,
        per_core_N=12, transpose_mcast=False),
    "MatmulMultiCoreReuseProgramConfig": dict(
        compute_with_storage_grid_size=(8, 7), in0_block_w=2, out_subblock_h=1, out_subblock_w=6, per_core_M=24,
        per_core_N=12),
    "LayerNormShardedMultiCoreProgramConfig": dict(
        compute_with_storage_grid_size=(8, 7), subblock_w=4, block_h=12, block_w=4, inplace=True),
    "LayerNormDefaultProgramConfig": dict(),
    "SoftmaxShardedMultiCoreProgramConfig": dict(
        compute_with_storage_grid_size=(8, 7), subblock_w=6, block_h=24, block_w=12),
    "SoftmaxDefaultProgramConfig": dict(),
}


@pytest.mark.parametrize("name", sorted(PROGRAM_CONFIGS))
def test_program_configs_construct(ttnn, name):
    cfg = getattr(ttnn, name)(**PROGRAM_CONFIGS[name])
    assert type(cfg).__name__ in repr(cfg)


@pytest.mark.parametrize("name", sorted(PROGRAM_CONFIGS))
def test_program_configs_reject_unknown_keywords(ttnn, name):
    with pytest.raises(TypeError):
        getattr(ttnn, name)(**PROGRAM_CONFIGS[name], not_a_field=1)


@pytest.mark.parametrize("name", sorted(k for k, v in PROGRAM_CONFIGS.items() if v))
def test_program_configs_reject_missing_and_positional(ttnn, name):
    kwargs = dict(PROGRAM_CONFIGS[name])
    kwargs.pop(next(iter(kwargs)))
    with pytest.raises(TypeError):
        getattr(ttnn, name)(**kwargs)
    with pytest.raises(TypeError):
        getattr(ttnn, name)(*PROGRAM_CONFIGS[name].values())


def test_mcast_config_defaults_and_fused_activation(ttnn):
    cfg = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=ttnn.CoreCoord(8, 7), in0_block_w=4, out_subblock_h=1, out_subblock_w=8,
        per_core_M=12, per_core_N=16, transpose_mcast=False, fused_activation=(ttnn.UnaryOpType.GELU, True))
    assert (cfg.out_block_h, cfg.out_block_w, cfg.fuse_batch) == (12, 16, True)
    assert cfg.fused_activation.op_type == ttnn.UnaryOpType.GELU and cfg.fused_activation.params == [1.0]
    assert cfg.compute_with_storage_grid_size == ttnn.CoreCoord(8, 7)
    assert "fused_activation=UnaryWithParam(op_type=UnaryOpType::GELU, params=[1])" in repr(cfg)
    with pytest.raises(TypeError):
        ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
            compute_with_storage_grid_size=(8, 7), in0_block_w=4, out_subblock_h=1, out_subblock_w=8,
            per_core_M=12, per_core_N=16, transpose_mcast=False, fused_activation="gelu")


def test_memory_config_positional_and_keywords(ttnn):
    grid = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 6))})
    spec = ttnn.ShardSpec(grid, [384, 128], ttnn.ShardOrientation.ROW_MAJOR)
    a = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1, spec)
    b = ttnn.MemoryConfig(memory_layout=ttnn.TensorMemoryLayout.BLOCK_SHARDED, buffer_type=ttnn.BufferType.L1,
                          shard_spec=ttnn.ShardSpec(grid, (384, 128), ttnn.ShardOrientation.ROW_MAJOR))
    assert a == b and hash(a) == hash(b) and a.is_sharded()
    assert ttnn.MemoryConfig() == ttnn.DRAM_MEMORY_CONFIG
    assert not ttnn.L1_MEMORY_CONFIG.is_sharded() and ttnn.L1_MEMORY_CONFIG.buffer_type == ttnn.BufferType.L1
    assert spec.num_cores() == 56 and spec.shape == [384, 128]
    with pytest.raises(TypeError):
        ttnn.MemoryConfig(ttnn.TensorMemoryLayout.INTERLEAVED, ttnn.BufferType.L1, spec, 1)
    with pytest.raises(TypeError):
        ttnn.ShardSpec(grid, [384, 128, 1], ttnn.ShardOrientation.ROW_MAJOR)


def test_core_types(ttnn):
    c = ttnn.CoreCoord(3, 4)
    assert (c.x, c.y) == (3, 4) and c == ttnn.CoreCoord((3, 4)) and repr(c) == "3-4"
    with pytest.raises(TypeError):
        ttnn.CoreCoord(x=1, y=2)
    r = ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 6))
    assert r.grid_size() == ttnn.CoreCoord(8, 7)
    with pytest.raises(RuntimeError):
        ttnn.CoreRange(ttnn.CoreCoord(2, 2), ttnn.CoreCoord(1, 1))
    s = ttnn.CoreRangeSet([r])
    assert s.num_cores() == 56 and s.bounding_box() == r and s.contains(ttnn.CoreCoord(7, 6))
    with pytest.raises(RuntimeError):
        ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(2, 2)),
                           ttnn.CoreRange(ttnn.CoreCoord(1, 1), ttnn.CoreCoord(3, 3))})
    g = ttnn.CoreGrid(y=7, x=8)
    assert g.num_cores == 56
    with pytest.raises(TypeError):
        ttnn.CoreGrid(8, 7)


def test_module_constants(ttnn):
    assert ttnn.bfloat16 == ttnn.DataType.BFLOAT16 and ttnn.bfloat8_b.value == 3 and ttnn.uint32.value == 2
    assert ttnn.TILE_LAYOUT == ttnn.Layout.TILE and repr(ttnn.bfloat8_b) == "DataType.BFLOAT8_B"
    assert ttnn.UnaryOpType.GELU.value == 2
    assert {m.name for m in ttnn.TensorMemoryLayout} >= {"INTERLEAVED", "HEIGHT_SHARDED", "WIDTH_SHARDED",
                                                         "BLOCK_SHARDED"}
    assert ttnn.ShardOrientation.COL_MAJOR and ttnn.BufferType.DRAM and ttnn.transformer.concatenate_heads


def test_shape(ttnn):
    s = ttnn.Shape([2, 384, 1024])
    assert s == [2, 384, 1024] and s == (2, 384, 1024) and s[-1] == 1024 and len(s) == 3 and s.rank == 3
    assert tuple(s) == (2, 384, 1024) and repr(s) == "Shape([2, 384, 1024])"
    with pytest.raises(TypeError):
        s[1:]


def test_device_spec_and_open(ttnn):
    spec = emulator.set_device_spec("grayskull_e150")
    try:
        dev = ttnn.open_device(device_id=0)
        assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(12, 9)
        assert dev.arch() == ttnn.Arch.GRAYSKULL and spec.l1_bytes == 1048576
        assert ttnn.open_device(device_id=0) is dev
        ttnn.close_device(dev)
        custom = emulator.set_device_spec("wormhole_n300", grid=(8, 8))
        dev = ttnn.open_device(device_id=0)
        assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(8, 8) and custom.arch == "wormhole_b0"
        assert dev.arch() == ttnn.Arch.WORMHOLE_B0
        ttnn.close_device(dev)
        with pytest.raises(TypeError):
            ttnn.open_device(0)
    finally:
        emulator.set_device_spec("wormhole_n300")


def test_install_into_sys_modules():
    before = sys.modules.get("ttnn")
    with emulator.emulated_ttnn("wormhole_n300_eth") as mod:
        import ttnn  # noqa: F401  (the emulator)

        assert sys.modules["ttnn"] is mod and ttnn.EMULATED
        from ttnn import transformer  # noqa: F401

        assert sys.modules["ttnn.transformer"] is mod.transformer
        # the 8x8 grid exists only with dispatch on the ethernet cores, as on the chip
        dev = ttnn.open_device(device_id=0, dispatch_core_config=ttnn.DispatchCoreConfig(ttnn.DispatchCoreType.ETH))
        assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(8, 8)
        ttnn.close_device(dev)
        dev = ttnn.open_device(device_id=0)
        assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(8, 7)
        ttnn.close_device(dev)
    assert sys.modules.get("ttnn") is before
    assert emulator.get_device_spec().name == "wormhole_n300"


# --- API surface -------------------------------------------------------------------------------

def test_api_surface_matches_real_ttnn():
    real = json.load(open(SURFACE_JSON))
    emu = emulator_api_surface()
    assert set(real) == set(API_FUNCTIONS + API_CLASSES)
    diffs = {k: (real[k], emu.get(k)) for k in real if real[k] != emu.get(k)}
    assert not diffs, diffs


def test_api_surface_covers_contract_ops():
    emu = emulator_api_surface()
    for name in ["ttnn.embedding", "ttnn.add", "ttnn.layer_norm", "ttnn.interleaved_to_sharded",
                 "ttnn.sharded_to_interleaved", "ttnn.linear", "ttnn.matmul", "ttnn.scale_mask_softmax_in_place",
                 "ttnn.transformer.split_query_key_value_and_split_heads", "ttnn.transformer.concatenate_heads",
                 "ttnn.deallocate", "ttnn.to_torch", "ttnn.from_torch", "ttnn.to_device"]:
        assert name in emu
    assert "bias" in emu["ttnn.linear"] and "bias" not in emu["ttnn.matmul"]
    assert "epsilon" in emu["ttnn.layer_norm"] and "eps" not in emu["ttnn.layer_norm"]


def test_keywords_of_parses_nanobind_signatures():
    class Fake:
        __nb_signature__ = (("def f(self, a: int, b: Tensor | None = \\0, /, c: int = 1, *, d: float = 2.0)", None,
                             None),)

    assert keywords_of(Fake()) == ["c", "d"]


@pytest.mark.parametrize("fn", ["linear", "matmul", "layer_norm", "embedding", "add"])
def test_ops_reject_unknown_keywords(ttnn, fn):
    with pytest.raises(TypeError):
        getattr(ttnn, fn)(None, None, not_a_keyword=1)
