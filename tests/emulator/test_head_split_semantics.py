"""Which fused-QKV column layout each head-split op reads (small, exact bfloat16 cases).

Layouts, for per-head q/k/v of NH heads x D columns (H = NH * D):

* plain        [q | k | v]                          golden / interleaved paths of both ops;
* interleaved  [q0 k0 v0 | q1 k1 v1 | ...]          ttnn.transformer sharded path (create_qkv_heads);
* grouped      per shard column g: [q_g | k_g | v_g] ttnn.experimental sharded path (2 heads per column).

Values are small integers, exact in bfloat16, so every comparison is exact.
Sources are cited in runtime/emulator/ttnn/transformer.py and experimental.py.
"""

import pytest
import torch

import runtime.emulator as emulator
from runtime.emulator import formats as F
from runtime.emulator.errors import OpInputError, ProgramConfigError, UnsupportedError
from runtime.emulator import ttnn as emu_ttnn

G = torch.Generator().manual_seed(7)


def heads(b, nh, s, d):
    """Per-head tensor [B, NH, S, D] of integers in [-100, 100)."""
    return torch.randint(-100, 100, (b, nh, s, d), generator=G).float()


def merged(x):  # [B, NH, S, D] -> [B, S, NH * D]
    b, nh, s, d = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, s, nh * d)


def plain(q, k, v):
    return torch.cat([merged(q), merged(k), merged(v)], -1)


def interleaved_heads(q, k, v):
    b, nh, s, d = q.shape
    return torch.stack([t.permute(0, 2, 1, 3) for t in (q, k, v)], dim=3).reshape(b, s, 3 * nh * d)


def grouped(q, k, v, g):
    b, _, s, _ = q.shape
    return torch.cat([merged(t).reshape(b, s, g, -1) for t in (q, k, v)], -1).reshape(b, s, -1)


def block_mc(ttnn, gx, gy, sh, sw):
    grid = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(gx - 1, gy - 1))})
    return ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
                             ttnn.ShardSpec(grid, [sh, sw], ttnn.ShardOrientation.ROW_MAJOR))


def put(ttnn, device, x, mc, dtype=None):
    return ttnn.from_torch(x, dtype=dtype or ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)


def sharded_qkv(ttnn, device, fused, g, four_d):
    b, s, w3 = fused.shape
    x = fused.reshape(b, 1, s, w3) if four_d else fused
    return put(ttnn, device, x, block_mc(ttnn, g, b, s, w3 // g))


def out(t):
    return emu_ttnn.to_torch(t).float()


def split_experimental(ttnn, t, nh, b):
    return ttnn.experimental.split_query_key_value_and_split_heads(
        t, ttnn.CoreCoord(8, b), num_heads=nh, memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)


def split_transformer(ttnn, t, nh, transpose_key=True):
    return ttnn.transformer.split_query_key_value_and_split_heads(
        t, num_heads=nh, transpose_key=transpose_key, memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)


CASES = [(1, 32), (2, 32), (2, 64)]  # (batch, seq); 4 heads of 32 on 2 shard columns = 2 heads per column


# --- sharded paths --------------------------------------------------------------------------------

@pytest.mark.parametrize("b,s", CASES)
def test_grouped_layout_with_experimental_gives_right_heads(ttnn, device, b, s):
    nh, d, g = 4, 32, 2
    q, k, v = heads(b, nh, s, d), heads(b, nh, s, d), heads(b, nh, s, d)
    t = sharded_qkv(ttnn, device, grouped(q, k, v, g), g, four_d=True)
    tq, tk, tv = split_experimental(ttnn, t, nh, b)
    assert torch.equal(out(tq), q) and torch.equal(out(tk), k.transpose(-1, -2)) and torch.equal(out(tv), v)
    grid = t.memory_config().shard_spec.grid
    for x, shard in ((tq, [2 * s, d]), (tk, [2 * d, s]), (tv, [2 * s, d])):
        mc = x.memory_config()
        assert mc.memory_layout == ttnn.TensorMemoryLayout.HEIGHT_SHARDED and mc.buffer_type == ttnn.BufferType.L1
        assert mc.shard_spec.grid == grid and mc.shard_spec.shape == shard


def test_grouped_layout_with_experimental_bfloat8_b(ttnn, device):
    """bfloat8_b: 32-wide head columns keep every 16-value exponent group; only K^T is re-packed."""
    b, s, nh, d, g = 2, 32, 4, 32, 2
    q, k, v = (torch.randn(b, nh, s, d, generator=G) for _ in range(3))
    fused = grouped(q, k, v, g).reshape(b, 1, s, -1)
    t = put(ttnn, device, fused, block_mc(ttnn, g, b, s, 3 * nh * d // g), ttnn.bfloat8_b)
    qq, kq, vq = (F.quantize_bfloat8_b(x) for x in (q, k, v))  # each head is its own 32-column run
    tq, tk, tv = split_experimental(ttnn, t, nh, b)
    assert tq.dtype == ttnn.bfloat8_b and torch.equal(out(tq), qq) and torch.equal(out(tv), vq)
    assert torch.equal(out(tk), F.quantize_bfloat8_b(kq.transpose(-1, -2)))


@pytest.mark.parametrize("b,s", CASES)
def test_grouped_layout_with_transformer_sharded_gives_wrong_heads(ttnn, device, b, s):
    nh, d, g = 4, 32, 2
    q, k, v = heads(b, nh, s, d), heads(b, nh, s, d), heads(b, nh, s, d)
    fused = grouped(q, k, v, g)
    tq, tk, tv = split_transformer(ttnn, sharded_qkv(ttnn, device, fused, g, four_d=False), nh)
    assert not torch.equal(out(tq), q) and not torch.equal(out(tk), k.transpose(-1, -2))
    assert not torch.equal(out(tv), v)
    # what it reads instead: head i = columns 3Di.. as [q_i k_i v_i]
    as_heads = fused.reshape(b, s, nh, 3, d).permute(0, 2, 1, 3, 4)
    assert torch.equal(out(tq), as_heads[..., 0, :]) and torch.equal(out(tv), as_heads[..., 2, :])
    # hand check, head 1: the grouped column block 32..63 is q head 1, which this op takes as k head 0
    assert torch.equal(out(tk)[:, 0], q[:, 1].transpose(-1, -2))


@pytest.mark.parametrize("b,s", CASES)
@pytest.mark.parametrize("transpose_key", [True, False])
def test_interleaved_heads_with_transformer_sharded_gives_right_heads(ttnn, device, b, s, transpose_key):
    nh, d, g = 4, 32, 2
    q, k, v = heads(b, nh, s, d), heads(b, nh, s, d), heads(b, nh, s, d)
    t = sharded_qkv(ttnn, device, interleaved_heads(q, k, v), g, four_d=False)
    tq, tk, tv = split_transformer(ttnn, t, nh, transpose_key)
    assert torch.equal(out(tq), q) and torch.equal(out(tv), v)
    assert torch.equal(out(tk), k.transpose(-1, -2) if transpose_key else k)
    assert tq.memory_config().shard_spec.shape == [nh // g * s, d]
    assert tk.memory_config().shard_spec.shape == ([nh // g * d, s] if transpose_key else [nh // g * s, d])


def test_interleaved_heads_with_experimental_gives_wrong_heads(ttnn, device):
    b, s, nh, d, g = 2, 32, 4, 32, 2
    q, k, v = heads(b, nh, s, d), heads(b, nh, s, d), heads(b, nh, s, d)
    tq, _, tv = split_experimental(ttnn, sharded_qkv(ttnn, device, interleaved_heads(q, k, v), g, True), nh, b)
    assert not torch.equal(out(tq), q) and not torch.equal(out(tv), v)


def test_concat_after_experimental_split_is_plain_concat(ttnn, device):
    b, s, nh, d, g = 2, 32, 4, 32, 2
    q, k, v = heads(b, nh, s, d), heads(b, nh, s, d), heads(b, nh, s, d)
    _, _, tv = split_experimental(ttnn, sharded_qkv(ttnn, device, grouped(q, k, v, g), g, True), nh, b)
    cat = ttnn.transformer.concatenate_heads(tv, memory_config=block_mc(ttnn, g, b, s, nh * d // g))
    assert cat.shape == [b, s, nh * d] and torch.equal(out(cat), merged(v))
    nlp = ttnn.experimental.nlp_concat_heads(tv, memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG)
    assert nlp.shape == [b, 1, s, nh * d] and torch.equal(out(nlp), merged(v).reshape(b, 1, s, -1))
    assert nlp.memory_config().shard_spec.shape == [s, 2 * d]
    assert nlp.memory_config().shard_spec.grid == tv.memory_config().shard_spec.grid
    with pytest.raises(ProgramConfigError) as e:  # memory_config None: the input's HEIGHT_SHARDED config
        ttnn.experimental.nlp_concat_heads(tv)
    assert e.value.rule == "concat_heads_output_layout"


def test_nlp_concat_heads_interleaved(ttnn, device):
    b, s, nh, d = 1, 32, 2, 32
    x = heads(b, nh, s, d)
    t = put(ttnn, device, x, ttnn.L1_MEMORY_CONFIG)
    cat = ttnn.experimental.nlp_concat_heads(t)
    assert cat.memory_config() == ttnn.L1_MEMORY_CONFIG and torch.equal(out(cat), merged(x).reshape(b, 1, s, -1))


# --- interleaved paths: plain [q | k | v] (golden) ------------------------------------------------

def test_transformer_interleaved_reads_plain_layout(ttnn, device):
    b, s, nh, d = 1, 32, 2, 32
    q, k, v = heads(b, nh, s, d), heads(b, nh, s, d), heads(b, nh, s, d)
    t = put(ttnn, device, plain(q, k, v), ttnn.L1_MEMORY_CONFIG)
    tq, tk, tv = ttnn.transformer.split_query_key_value_and_split_heads(t, num_heads=nh)
    assert torch.equal(out(tq), q) and torch.equal(out(tk), k.transpose(-1, -2)) and torch.equal(out(tv), v)
    assert tq.memory_config() == ttnn.L1_MEMORY_CONFIG


def test_experimental_interleaved_reads_plain_layout(ttnn, device):
    b, s, nh, d = 7, 32, 16, 64  # the interleaved kernels: batch 7..9, 16 heads of 64
    q, k, v = heads(b, nh, s, d), heads(b, nh, s, d), heads(b, nh, s, d)
    t = put(ttnn, device, plain(q, k, v).reshape(b, 1, s, -1), ttnn.DRAM_MEMORY_CONFIG)
    tq, tk, tv = ttnn.experimental.split_query_key_value_and_split_heads(t, ttnn.CoreCoord(8, 7), num_heads=nh)
    assert torch.equal(out(tq), q) and torch.equal(out(tk), k.transpose(-1, -2)) and torch.equal(out(tv), v)
    assert tq.memory_config() == ttnn.DRAM_MEMORY_CONFIG


# --- validations ----------------------------------------------------------------------------------

def _qkv(ttnn, device, b, s, nh, d, g, four_d=True, dtype=None):
    x = torch.zeros(b, s, 3 * nh * d)
    x = x.reshape(b, 1, s, -1) if four_d else x
    return put(ttnn, device, x, block_mc(ttnn, g, b, s, 3 * nh * d // g), dtype)


def test_experimental_sharded_needs_two_heads_per_core_column(ttnn, device):
    with pytest.raises(ProgramConfigError) as e:
        split_experimental(ttnn, _qkv(ttnn, device, 1, 32, 2, 32, 2), 2, 1)
    assert e.value.rule == "two_heads_per_core"


def test_experimental_sharded_grid_must_be_inside_the_grid_argument(ttnn, device):
    t = _qkv(ttnn, device, 2, 32, 4, 32, 2)
    with pytest.raises(ProgramConfigError) as e:
        ttnn.experimental.split_query_key_value_and_split_heads(t, ttnn.CoreCoord(2, 1), num_heads=4,
                                                                memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    assert e.value.rule == "grid_vs_compute_grid"


def test_experimental_rejects_float32(ttnn, device):
    with pytest.raises(OpInputError) as e:
        split_experimental(ttnn, _qkv(ttnn, device, 1, 32, 4, 32, 2, dtype=ttnn.float32), 4, 1)
    assert e.value.rule == "dtype"


def test_experimental_interleaved_is_bert_large_only(ttnn, device):
    t = put(ttnn, device, torch.zeros(1, 1, 32, 3 * 1024), ttnn.DRAM_MEMORY_CONFIG)
    with pytest.raises(OpInputError) as e:
        ttnn.experimental.split_query_key_value_and_split_heads(t, ttnn.CoreCoord(8, 7), num_heads=16)
    assert e.value.rule == "bert_large_batch"
    t = put(ttnn, device, torch.zeros(7, 1, 32, 3 * 128), ttnn.DRAM_MEMORY_CONFIG)
    with pytest.raises(OpInputError) as e:
        ttnn.experimental.split_query_key_value_and_split_heads(t, ttnn.CoreCoord(8, 7), num_heads=4)
    assert e.value.rule == "bert_large_shape"


def test_transformer_sharded_default_output_config_is_rejected(ttnn, device):
    # memory_config=None means the input's BLOCK_SHARDED config; create_qkv_heads needs HEIGHT_SHARDED
    t = _qkv(ttnn, device, 2, 32, 4, 32, 2, four_d=False)
    with pytest.raises(ProgramConfigError) as e:
        ttnn.transformer.split_query_key_value_and_split_heads(t, num_heads=4)
    assert e.value.rule == "split_heads_output_layout"


def test_transformer_needs_rank_3(ttnn, device):
    with pytest.raises(OpInputError) as e:
        split_transformer(ttnn, _qkv(ttnn, device, 2, 32, 4, 32, 2, four_d=True), 4)
    assert e.value.rule == "qkv_shape"


def test_experimental_output_tensors_not_emulated(ttnn, device):
    t = _qkv(ttnn, device, 2, 32, 4, 32, 2)
    with pytest.raises(UnsupportedError):
        ttnn.experimental.split_query_key_value_and_split_heads(t, ttnn.CoreCoord(8, 2), num_heads=4,
                                                                output_tensors=[t, t, t])


# --- opening the device: dispatch cores, program cache --------------------------------------------

@pytest.fixture
def reopen():
    def _open(spec, **kwargs):
        emulator.set_device_spec(spec)
        for dev in list(emu_ttnn.operations._open_devices.values()):
            emu_ttnn.close_device(dev)
        return emu_ttnn.open_device(device_id=0, **kwargs)

    yield _open
    for dev in list(emu_ttnn.operations._open_devices.values()):
        emu_ttnn.close_device(dev)
    emulator.set_device_spec("wormhole_n300")


def test_dispatch_types_match_the_wheel(ttnn):
    assert [m.name for m in ttnn.DispatchCoreType] == ["WORKER", "ETH"]
    assert [m.name for m in ttnn.DispatchCoreAxis] == ["ROW", "COL"]
    assert ttnn.device.DispatchCoreType is ttnn.DispatchCoreType
    assert ttnn.device.DispatchCoreConfig is ttnn.DispatchCoreConfig
    assert emulator.DEVICE_PRESETS["wormhole_n300_eth"].dispatch_core_type == "ETH"
    assert emulator.DEVICE_PRESETS["wormhole_n300"].dispatch_core_type == "WORKER"


def test_eth_spec_opened_with_worker_dispatch_loses_a_row(ttnn, reopen):
    dev = reopen("wormhole_n300_eth")  # dispatch_core_config=None: WORKER
    assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(8, 7)
    assert dev.l1_allocated_bytes_by_core().shape == (7, 8)
    cfg = ttnn.DispatchCoreConfig(ttnn.DispatchCoreType.ETH)
    dev = reopen("wormhole_n300_eth", dispatch_core_config=cfg)
    assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(8, 8) and dev.dispatch_core_config == cfg


def test_worker_spec_opened_with_eth_dispatch_keeps_its_grid(ttnn, reopen):
    dev = reopen("wormhole_n300", dispatch_core_config=ttnn.DispatchCoreConfig(ttnn.DispatchCoreType.ETH))
    assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(8, 7)


def test_dispatch_core_config_defaults(ttnn):
    try:
        emulator.set_device_spec("wormhole_n300_eth")
        cfg = ttnn.DispatchCoreConfig()
        assert cfg.type == ttnn.DispatchCoreType.ETH and cfg.axis == ttnn.DispatchCoreAxis.ROW
        emulator.set_device_spec("bh", arch="blackhole", grid=(13, 10), l1_bytes=1 << 20)
        cfg = ttnn.DispatchCoreConfig()
        assert cfg.type == ttnn.DispatchCoreType.WORKER and cfg.axis == ttnn.DispatchCoreAxis.COL
        spec = emulator.set_device_spec("wormhole_n300", grid=(8, 8), dispatch_core_type="ETH")
        assert spec.dispatch_core_type == "ETH"
        with pytest.raises(ValueError):
            emulator.set_device_spec("wormhole_n300", dispatch_core_type="ETHERNET")
    finally:
        emulator.set_device_spec("wormhole_n300")


def test_program_cache_flag(reopen):
    dev = reopen("wormhole_n300")
    assert dev.program_cache_enabled  # on by default at ttnn 0.81
    dev.disable_and_clear_program_cache()
    assert not dev.program_cache_enabled
    dev.enable_program_cache()
    assert dev.program_cache_enabled
