"""Each emulated op against a float reference (tolerances per output dtype)."""

import pytest
import torch

from runtime.emulator import formats as F
from runtime.emulator.errors import DeallocatedTensorError

G = torch.Generator().manual_seed(1234)


def rnd(*shape, scale=1.0):
    return torch.randn(*shape, generator=G) * scale


def exact(ttnn):
    """The device's most exact compute settings: the float32 references below hold for them (the default
    settings' arithmetic, LoFi and bf16 accumulation, is tested against its model in test_compute_numerics.py)."""
    return ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=False,
                                            fp32_dest_acc_en=True, packer_l1_acc=False)


def dev_tensor(ttnn, device, x, dtype=None, layout=None, mc=None):
    dtype = dtype or ttnn.bfloat16
    layout = layout or ttnn.TILE_LAYOUT
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, memory_config=mc or ttnn.DRAM_MEMORY_CONFIG)


def grid(ttnn, x, y):
    return ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(x - 1, y - 1))})


def block_mc(ttnn, gx, gy, sh, sw, orient=None):
    return ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
                             ttnn.ShardSpec(grid(ttnn, gx, gy), [sh, sw], orient or ttnn.ShardOrientation.ROW_MAJOR))


def height_mc(ttnn, gx, gy, sh, sw):
    return ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1,
                             ttnn.ShardSpec(grid(ttnn, gx, gy), [sh, sw], ttnn.ShardOrientation.ROW_MAJOR))


def bf16(x):
    return x.to(torch.bfloat16).float()


# --- host <-> device -----------------------------------------------------------------------------

def test_from_torch_to_torch_dtypes(ttnn, device):
    x = rnd(2, 40, 50)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    assert t.shape == [2, 40, 50] and t.padded_shape == [2, 64, 64] and t.dtype == ttnn.bfloat16
    y = ttnn.to_torch(t)
    assert y.dtype == torch.bfloat16 and torch.equal(y.float(), bf16(x))
    q = ttnn.from_torch(x, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device)
    assert ttnn.to_torch(q).dtype == torch.float32 and torch.equal(ttnn.to_torch(q), F.quantize_bfloat8_b(x))
    f = ttnn.from_torch(x)  # dtype from torch, row-major by default
    assert f.dtype == ttnn.float32 and f.layout == ttnn.ROW_MAJOR_LAYOUT and torch.equal(ttnn.to_torch(f), x)
    ids = ttnn.from_torch(torch.tensor([[1, 2, 3]]), dtype=ttnn.uint32, layout=ttnn.ROW_MAJOR_LAYOUT)
    assert ttnn.to_torch(ids).tolist() == [[1, 2, 3]] and not ttnn.to_torch(ids).is_floating_point()
    assert ttnn.from_torch(None) is None


def test_from_torch_copies_input(ttnn):
    x = rnd(32, 32)
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT)
    x.zero_()
    assert ttnn.to_torch(t).abs().sum() > 0


def test_to_device_from_device_roundtrip(ttnn, device):
    x = rnd(64, 64)
    h = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    d = ttnn.to_device(h, device, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert d.device() is device and d.memory_config() == ttnn.L1_MEMORY_CONFIG and d.is_allocated()
    back = ttnn.from_device(d)
    assert back.device() is None and torch.equal(ttnn.to_torch(back), ttnn.to_torch(h))
    assert d.storage_type() == ttnn.StorageType.DEVICE and h.storage_type() == ttnn.StorageType.HOST


def test_to_layout(ttnn, device):
    x = rnd(30, 40)
    t = dev_tensor(ttnn, device, x, layout=ttnn.ROW_MAJOR_LAYOUT)
    tt = ttnn.to_layout(t, ttnn.TILE_LAYOUT)
    assert tt.layout == ttnn.TILE_LAYOUT and tt.padded_shape == [32, 64] and torch.equal(ttnn.to_torch(tt),
                                                                                       ttnn.to_torch(t))
    q = ttnn.to_layout(t, ttnn.TILE_LAYOUT, dtype=ttnn.bfloat8_b)
    assert torch.equal(ttnn.to_torch(q), F.quantize_bfloat8_b(bf16(x)))


def test_deallocate(ttnn, device):
    t = dev_tensor(ttnn, device, rnd(32, 32), mc=ttnn.L1_MEMORY_CONFIG)
    ttnn.deallocate(t)
    assert not t.is_allocated()
    with pytest.raises(DeallocatedTensorError):
        ttnn.to_torch(t)
    ttnn.deallocate(t)  # twice is harmless


def test_dump_and_load(ttnn, device, tmp_path):
    x = rnd(64, 96)
    mc = block_mc(ttnn, 3, 2, 32, 32)
    t = dev_tensor(ttnn, device, x, dtype=ttnn.bfloat8_b, mc=mc)
    ttnn.dump_tensor(tmp_path / "t.bin", t)
    h = ttnn.load_tensor(tmp_path / "t.bin")
    assert h.device() is None and h.dtype == ttnn.bfloat8_b and torch.equal(ttnn.to_torch(h), ttnn.to_torch(t))
    d = ttnn.load_tensor(str(tmp_path / "t.bin"), device=device)
    assert d.memory_config() == mc


def test_reshape_view_and_copy(ttnn, device):
    x = rnd(2, 64, 96)
    t = dev_tensor(ttnn, device, x, mc=ttnn.L1_MEMORY_CONFIG)
    before = device.l1_allocated_bytes_per_core()
    v = ttnn.reshape(t, (2, 1, 64, 96))
    assert v.shape == [2, 1, 64, 96] and device.l1_allocated_bytes_per_core() == before
    assert torch.equal(ttnn.to_torch(v), ttnn.to_torch(t).reshape(2, 1, 64, 96))
    w = t.reshape(1, 2, 6144)
    assert w.shape == [1, 2, 6144] and torch.equal(ttnn.to_torch(w).reshape(-1), ttnn.to_torch(t).reshape(-1))
    ttnn.deallocate(t)
    assert not v.is_allocated()  # views share the buffer


# --- compute ops ---------------------------------------------------------------------------------

def test_embedding(ttnn, device):
    table = rnd(100, 64)
    ids = torch.randint(0, 100, (2, 32), generator=G)
    t_tab = dev_tensor(ttnn, device, table, layout=ttnn.ROW_MAJOR_LAYOUT)
    t_ids = ttnn.from_torch(ids, dtype=ttnn.uint32, layout=ttnn.ROW_MAJOR_LAYOUT, device=device,
                            memory_config=ttnn.L1_MEMORY_CONFIG)
    out = ttnn.embedding(t_ids, t_tab, layout=ttnn.TILE_LAYOUT, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert out.shape == [2, 32, 64] and out.layout == ttnn.TILE_LAYOUT and out.dtype == ttnn.bfloat16
    assert torch.equal(ttnn.to_torch(out).float(), bf16(table)[ids])


def test_add(ttnn, device):
    a, b = rnd(2, 64, 64), rnd(2, 64, 64)
    ta = dev_tensor(ttnn, device, a, mc=ttnn.L1_MEMORY_CONFIG)
    tb = dev_tensor(ttnn, device, b, mc=ttnn.L1_MEMORY_CONFIG)
    out = ttnn.add(ta, tb, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert out.memory_config() == ttnn.L1_MEMORY_CONFIG
    assert torch.equal(ttnn.to_torch(out).float(), bf16(bf16(a) + bf16(b)))
    q = ttnn.add(ta, tb, dtype=ttnn.bfloat8_b)
    assert torch.equal(ttnn.to_torch(q), F.quantize_bfloat8_b(bf16(a) + bf16(b)))


def _ln_ref(x, g, b, eps):
    x = x.double()
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return ((x - mu) / torch.sqrt(var + eps) * g.double() + b.double()).float()


def test_layer_norm_interleaved(ttnn, device):
    x, r = rnd(2, 64, 256), rnd(2, 64, 256)
    g, b = 1 + rnd(256, scale=0.1), rnd(256, scale=0.1)
    tx = dev_tensor(ttnn, device, x, mc=ttnn.L1_MEMORY_CONFIG)
    tr = dev_tensor(ttnn, device, r, mc=ttnn.L1_MEMORY_CONFIG)
    tg = dev_tensor(ttnn, device, g.reshape(1, 1, 8, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    tb = dev_tensor(ttnn, device, b.reshape(1, 1, 8, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    out = ttnn.layer_norm(tx, residual_input_tensor=tr, weight=tg, bias=tb, epsilon=1e-12,
                          memory_config=ttnn.L1_MEMORY_CONFIG)
    ref = _ln_ref(bf16(x) + bf16(r), bf16(g), bf16(b), 1e-12)
    got = ttnn.to_torch(out).float()
    assert torch.allclose(got, ref, rtol=2 ** -7, atol=1e-2)
    # gamma also accepted as a TILE [1, 1, 1, W] tensor
    tg2 = dev_tensor(ttnn, device, g.reshape(1, 1, 1, 256))
    tb2 = dev_tensor(ttnn, device, b.reshape(1, 1, 1, 256))
    out2 = ttnn.layer_norm(tx, residual_input_tensor=tr, weight=tg2, bias=tb2)
    assert torch.equal(ttnn.to_torch(out2), ttnn.to_torch(out))


def test_layer_norm_sharded_in_place(documented_semantics, ttnn, device):
    """LN(x + residual) in place on a block-sharded input (the device's reduction arithmetic: test_compute_numerics)."""
    x, r = rnd(2, 64, 256), rnd(2, 64, 256)
    mc = block_mc(ttnn, 4, 2, 64, 64)
    tx = dev_tensor(ttnn, device, x, dtype=ttnn.bfloat8_b, mc=mc)
    tr = dev_tensor(ttnn, device, r, dtype=ttnn.bfloat8_b, mc=mc)
    tg = dev_tensor(ttnn, device, torch.ones(1, 1, 8, 32), layout=ttnn.ROW_MAJOR_LAYOUT)
    cfg = ttnn.LayerNormShardedMultiCoreProgramConfig(compute_with_storage_grid_size=(4, 2), subblock_w=2, block_h=2,
                                                      block_w=2, inplace=True)
    xv, rv = ttnn.to_torch(tx), ttnn.to_torch(tr)
    before = device.l1_allocated_bytes_per_core()
    out = ttnn.layer_norm(tx, residual_input_tensor=tr, weight=tg, epsilon=1e-5, memory_config=mc, program_config=cfg)
    assert out is tx and device.l1_allocated_bytes_per_core() == before
    ref = torch.nn.functional.layer_norm(xv + rv, (256,), eps=1e-5)
    assert torch.allclose(ttnn.to_torch(out), ref, rtol=1e-5, atol=1e-5)


def test_linear_with_bias_and_gelu(documented_semantics, ttnn, device):
    """linear + bias + accurate GELU (activation="gelu"); the device arithmetic: test_compute_numerics."""
    a, w, b = rnd(2, 64, 128), rnd(128, 96, scale=0.1), rnd(96)
    ta = dev_tensor(ttnn, device, a, dtype=ttnn.bfloat8_b)
    tw = dev_tensor(ttnn, device, w, dtype=ttnn.bfloat8_b)
    tb = dev_tensor(ttnn, device, b.reshape(1, 1, 1, 96), dtype=ttnn.bfloat8_b)
    out = ttnn.linear(ta, tw, bias=tb, activation="gelu", dtype=ttnn.bfloat16)
    ref = torch.nn.functional.gelu((a.double() @ w.double() + b.double()).float())
    got = ttnn.to_torch(out).float()
    assert out.shape == [2, 64, 96] and torch.allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_linear_output_bfp8_sharded(ttnn, device):
    a, w = rnd(1, 128, 256), rnd(256, 128, scale=0.05)
    mc = block_mc(ttnn, 4, 2, 64, 64)
    ta = dev_tensor(ttnn, device, a, dtype=ttnn.bfloat8_b, mc=mc)
    tw = dev_tensor(ttnn, device, w, dtype=ttnn.bfloat8_b)
    cfg = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(4, 2), in0_block_w=2, out_subblock_h=1, out_subblock_w=1, per_core_M=2,
        per_core_N=1, transpose_mcast=False)
    out_mc = block_mc(ttnn, 4, 2, 64, 32)
    out = ttnn.linear(ta, tw, program_config=cfg, memory_config=out_mc, dtype=ttnn.bfloat8_b,
                      compute_kernel_config=exact(ttnn))
    assert out.memory_config() == out_mc
    ref = F.quantize_bfloat8_b(F.quantize_bfloat8_b(a) @ F.quantize_bfloat8_b(w))
    got = ttnn.to_torch(out)
    # same quantisation grid; the GEMM summation order may move a value by one step
    e = torch.frexp(ref.abs().reshape(-1, 16).amax(1, keepdim=True))[1]
    step = torch.ldexp(torch.ones(e.shape), e - 7)
    assert ((got - ref).reshape(-1, 16).abs() <= step).all()


def test_matmul_batched_reuse(ttnn, device):
    b, nh, s, d = 2, 4, 64, 32
    q, kt = rnd(b, nh, s, d), rnd(b, nh, d, s)
    q_mc = height_mc(ttnn, 4, 1, 2 * s, d)  # 2 heads per core, 4 cores
    k_mc = height_mc(ttnn, 4, 1, 2 * d, s)
    tq = dev_tensor(ttnn, device, q, mc=q_mc)
    tk = dev_tensor(ttnn, device, kt, mc=k_mc)
    cfg = ttnn.MatmulMultiCoreReuseProgramConfig(compute_with_storage_grid_size=(4, 1), in0_block_w=1,
                                                 out_subblock_h=1, out_subblock_w=2, per_core_M=4, per_core_N=2)
    out = ttnn.matmul(tq, tk, program_config=cfg, memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG,
                      dtype=ttnn.bfloat16, compute_kernel_config=exact(ttnn))
    assert out.memory_config().shard_spec.shape == [128, 64] and out.shape == [b, nh, s, s]
    ref = bf16(bf16(q).double() @ bf16(kt).double())
    assert torch.allclose(ttnn.to_torch(out).float(), ref.float(), rtol=2 ** -7, atol=1e-6)


def test_scale_mask_softmax_in_place(ttnn, device):
    b, nh, s = 2, 2, 64
    x = rnd(b, nh, s, s, scale=3.0)
    lengths = [40, 64]
    m = torch.zeros(b, s)
    for i, n in enumerate(lengths):
        m[i, n:] = -100000.0
    tx = dev_tensor(ttnn, device, x, mc=ttnn.L1_MEMORY_CONFIG)
    tm = ttnn.from_torch(m.reshape(b, 1, s // 32, 32), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT,
                         device=device, memory_config=ttnn.L1_MEMORY_CONFIG)
    out = ttnn.scale_mask_softmax_in_place(tx, 0.125, tm, compute_kernel_config=exact(ttnn))
    assert out is tx
    ref = torch.softmax(bf16(x).double() * 0.125 + m.reshape(b, 1, 1, s).double(), -1)
    got = ttnn.to_torch(out).float()
    assert torch.allclose(got, ref.float(), rtol=2 ** -7, atol=1e-6)
    assert (got[0, :, :, 40:] == 0).all()


def test_softmax_sharded(ttnn, device):
    b, nh, s = 2, 4, 64
    x = rnd(b, nh, s, s)
    mc = height_mc(ttnn, 4, 1, 2 * 2 * s, s)  # 4 cores x (2 heads x 2 ... ) rows
    mc = height_mc(ttnn, 4, 1, b * nh * s // 4, s)
    tx = dev_tensor(ttnn, device, x, mc=mc)
    tm = ttnn.from_torch(torch.zeros(b, 1, s // 32, 32), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT,
                         device=device, memory_config=ttnn.L1_MEMORY_CONFIG)
    cfg = ttnn.SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size=(4, 1), subblock_w=1,
                                                    block_h=b * nh * s // 4 // 32, block_w=s // 32)
    out = ttnn.scale_mask_softmax_in_place(tx, 1.0, tm, program_config=cfg, compute_kernel_config=exact(ttnn))
    assert torch.allclose(ttnn.to_torch(out).float(), torch.softmax(bf16(x), -1), rtol=2 ** -7, atol=1e-6)


def test_interleaved_sharded_roundtrip(ttnn, device):
    x = rnd(2, 64, 128)
    t = dev_tensor(ttnn, device, x, mc=ttnn.L1_MEMORY_CONFIG)
    mc = block_mc(ttnn, 4, 2, 64, 32)
    s = ttnn.interleaved_to_sharded(t, mc, ttnn.bfloat8_b)
    assert s.memory_config() == mc and s.dtype == ttnn.bfloat8_b
    assert torch.equal(ttnn.to_torch(s), F.quantize_bfloat8_b(bf16(x)))
    s2 = ttnn.interleaved_to_sharded(t, ttnn.CoreCoord(4, 2), [64, 32], ttnn.TensorMemoryLayout.BLOCK_SHARDED,
                                     ttnn.ShardOrientation.ROW_MAJOR)
    assert s2.memory_config() == mc and s2.dtype == ttnn.bfloat16
    back = ttnn.sharded_to_interleaved(s, ttnn.L1_MEMORY_CONFIG)
    assert not back.memory_config().is_sharded() and torch.equal(ttnn.to_torch(back), ttnn.to_torch(s))
    assert ttnn.sharded_to_interleaved(s).memory_config() == ttnn.DRAM_MEMORY_CONFIG


def _regroup(q, k, v, g):
    parts = []
    n = q.shape[-1] // g
    for i in range(g):
        parts += [q[..., i * n:(i + 1) * n], k[..., i * n:(i + 1) * n], v[..., i * n:(i + 1) * n]]
    return torch.cat(parts, -1)


def test_split_heads_sharded_regrouped_and_concat(ttnn, device):
    b, s, h, nh, g = 2, 64, 128, 4, 2
    d = h // nh
    q, k, v = rnd(b, s, h), rnd(b, s, h), rnd(b, s, h)
    qkv = _regroup(q, k, v, g)
    mc = block_mc(ttnn, g, b, s, 3 * h // g)
    t = dev_tensor(ttnn, device, qkv.reshape(b, 1, s, 3 * h), dtype=ttnn.bfloat8_b, mc=mc)
    # grouped columns, 2 heads per core column: the layout the experimental op's sharded kernels read
    tq, tk, tv = ttnn.experimental.split_query_key_value_and_split_heads(
        t, ttnn.CoreCoord(g, b), num_heads=nh, memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    qq, kq, vq = (F.quantize_bfloat8_b(_x) for _x in (q, k, v))  # groups of 16 survive the regrouping

    def heads(x):
        return x.reshape(b, s, nh, d).permute(0, 2, 1, 3)

    assert tq.shape == [b, nh, s, d] and tk.shape == [b, nh, d, s] and tv.shape == [b, nh, s, d]
    assert torch.equal(ttnn.to_torch(tq), heads(qq))
    assert torch.equal(ttnn.to_torch(tv), heads(vq))
    assert torch.equal(ttnn.to_torch(tk), F.quantize_bfloat8_b(heads(kq).transpose(-1, -2)))  # re-packed
    assert tq.memory_config().shard_spec.shape == [nh // g * s, d]
    assert tk.memory_config().shard_spec.shape == [nh // g * d, s]
    cat = ttnn.experimental.nlp_concat_heads(tv, memory_config=block_mc(ttnn, g, b, s, h // g))
    assert cat.shape == [b, 1, s, h] and torch.equal(ttnn.to_torch(cat).reshape(b, s, h), vq)


def test_split_heads_interleaved(ttnn, device):
    b, s, h, nh = 1, 32, 64, 2
    x = rnd(b, s, 3 * h)
    t = dev_tensor(ttnn, device, x, mc=ttnn.L1_MEMORY_CONFIG)
    tq, tk, tv = ttnn.transformer.split_query_key_value_and_split_heads(t, num_heads=nh, transpose_key=False)
    xb = bf16(x)
    assert torch.equal(ttnn.to_torch(tq).float(), xb[..., :h].reshape(b, s, nh, 32).permute(0, 2, 1, 3))
    assert torch.equal(ttnn.to_torch(tk).float(), xb[..., h:2 * h].reshape(b, s, nh, 32).permute(0, 2, 1, 3))
    cat = ttnn.transformer.concatenate_heads(tq)
    assert torch.equal(ttnn.to_torch(cat).float(), xb[..., :h])


# --- a whole encoder layer (reference configs, batch 2) -------------------------------------------

@pytest.mark.parametrize("spec,col_major", [("wormhole_n300", False), ("grayskull_e150", True)])
def test_reference_encoder_layer(ttnn, spec, col_major):
    import runtime.emulator as emulator
    from tests.emulator import reference_program as rp

    emulator.set_device_spec(spec)
    for dev in list(ttnn.operations._open_devices.values()):
        ttnn.close_device(dev)
    device = ttnn.open_device(device_id=0)
    try:
        if col_major:
            # Grayskull (v0.55 memory map: 875,136 B above the allocator base): the demo's bf16 scores (589,824 B per
            # core) leave 76,352 B for the softmax's 79,872 B of circular buffers, and the chip would refuse the
            # program; with bfloat8_b scores (the compiler's schedules) the layer fits.
            with pytest.raises(ttnn.L1OutOfMemoryError, match=r"softmax.*79872 B of CBs"):
                _run_reference_layer(ttnn, device, rp, rp.Dims(batch=2, col_major=True))
            for t in list(device._charges):
                device._free_l1(t)
            _run_reference_layer(ttnn, device, rp, rp.Dims(batch=2, col_major=True, scores_bf16=False))
        else:
            _run_reference_layer(ttnn, device, rp, rp.Dims(batch=2, col_major=col_major))
    finally:
        ttnn.close_device(device)
        emulator.set_device_spec("wormhole_n300")


def _run_reference_layer(ttnn, device, rp, d):
    c = rp.make_configs(ttnn, d)
    wts = rp.random_layer_weights(d)
    w = rp.prepare_layer(ttnn, device, d, wts)
    x = rnd(d.batch, d.seq, d.hidden)
    # 4-D, as the head split reads it; on Grayskull from DRAM, as its schedule keeps the embeddings: a freed L1 input
    # would leave a hole above the hidden states that FF2's 561,472 B of CBs cannot spare
    xt = ttnn.from_torch(x.reshape(d.batch, 1, d.seq, d.hidden), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                         device=device, memory_config=ttnn.DRAM_MEMORY_CONFIG if d.col_major else ttnn.L1_MEMORY_CONFIG)
    xs = ttnn.interleaved_to_sharded(xt, c["block_hidden"], ttnn.bfloat8_b)
    ttnn.deallocate(xt)
    lengths = [300, 200]
    mask = rp.make_mask(ttnn, device, lengths, d)
    device.reset_l1_peak()
    base = device.l1_allocated_bytes_per_core()
    out = rp.encoder_layer(ttnn, xs, mask, w, c, d)
    got = ttnn.to_torch(out).reshape(d.batch, d.seq, d.hidden)
    ref = rp.torch_layer(x, lengths, wts, d)
    pcc = torch.corrcoef(torch.stack([got.flatten(), ref.flatten()]))[0, 1].item()
    assert pcc > 0.999, pcc
    assert (got - ref).abs().max() < 0.25
    # hand-computed L1 (bytes on each sharded core): x 48 bfp8 tiles = 52224 + mask (24 rows of 64 B
    # over all cores: 1 row = 64 B) = 52288; peak right after the Q x K^T scores (288 bf16 tiles = 589824)
    # while the QKV output is freed but Q, K^T, V (3 x 52224) are live.
    assert base == 52288
    scores = 288 * (2048 if d.scores_bf16 else 1088)
    # during QKV: the reference's QKV-sized reserve (156,672 B) and the QKV output are live too, below the scores peak
    assert device.l1_peak_bytes_per_core() == 52288 + 3 * 52224 + scores
    assert device.l1_allocated_bytes_per_core() == 52288  # output shard + mask
    assert out.memory_config() == c["block_hidden"]
