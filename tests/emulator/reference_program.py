"""A hand-written program in the shape of docs/emitted-program-contract.md.

Used by the emulator tests (one BERT encoder layer with the reference
BFLOAT8_B-SHARDED configs of tt-bert-reference.md §3, embeddings, QA head)
and by ``python -m tests.emulator.bench_forward`` for the speed target.  It
only uses ``ttnn`` calls listed in the contract, with the contract's keywords.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class Dims:
    batch: int = 2
    seq: int = 384
    hidden: int = 1024
    heads: int = 16
    inter: int = 4096
    grid_cols: int = 8  # G: grid columns across the hidden size
    layers: int = 1
    vocab: int = 512
    eps: float = 1e-12
    col_major: bool = False  # Grayskull style: grid (x=batch, y=G), COL_MAJOR shards, transpose_mcast=True
    scores_bf16: bool = True  # the demo's bf16 attention scores; bfloat8_b as the compiler's schedules keep them

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def make_configs(ttnn, d: Dims):
    """Memory and program configs of the reference.

    Wormhole orientation: grid x = G, y = batch, ROW_MAJOR; with ``d.col_major`` (Grayskull): grid x = batch,
    y = G, COL_MAJOR shards and transpose_mcast=True.
    """
    g, b = d.grid_cols, d.batch
    t = 32
    gx, gy = (b, g) if d.col_major else (g, b)
    orient = ttnn.ShardOrientation.COL_MAJOR if d.col_major else ttnn.ShardOrientation.ROW_MAJOR
    grid = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(gx - 1, gy - 1))})
    mtiles = d.seq // t  # per core row (one batch)
    c = {}
    c["block_hidden"] = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, [d.seq, d.hidden // g], orient))
    c["block_qkv"] = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, [d.seq, 3 * d.hidden // g], orient))
    c["block_ff1"] = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, [d.seq, d.inter // g], orient))
    c["height"] = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1)
    hpg = d.heads // g
    c["scores"] = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, [hpg * d.seq, d.seq], orient))
    c["context"] = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, [hpg * d.seq, d.head_dim], orient))
    gs = ttnn.CoreCoord(gx, gy)
    c["grid"] = gs
    kt = d.hidden // t
    c["qkv"] = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=gs, in0_block_w=kt // g, out_subblock_h=1, out_subblock_w=6,
        per_core_M=mtiles, per_core_N=3 * kt // g, transpose_mcast=d.col_major, fused_activation=None)
    c["qk"] = ttnn.MatmulMultiCoreReuseProgramConfig(
        compute_with_storage_grid_size=gs, in0_block_w=d.head_dim // t, out_subblock_h=1, out_subblock_w=6,
        per_core_M=hpg * mtiles, per_core_N=mtiles)
    c["pv"] = ttnn.MatmulMultiCoreReuseProgramConfig(
        compute_with_storage_grid_size=gs, in0_block_w=mtiles, out_subblock_h=4, out_subblock_w=2,
        per_core_M=hpg * mtiles, per_core_N=d.head_dim // t)
    c["selfout"] = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=gs, in0_block_w=kt // g, out_subblock_h=2, out_subblock_w=4,
        per_core_M=mtiles, per_core_N=kt // g, transpose_mcast=d.col_major, fused_activation=None)
    c["ff1"] = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=gs, in0_block_w=kt // g, out_subblock_h=1, out_subblock_w=8,
        per_core_M=mtiles, per_core_N=d.inter // t // g, transpose_mcast=d.col_major,
        fused_activation=(ttnn.UnaryOpType.GELU, True))
    c["ff2"] = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=gs, in0_block_w=d.inter // t // g, out_subblock_h=2, out_subblock_w=4,
        per_core_M=mtiles, per_core_N=kt // g, transpose_mcast=d.col_major, fused_activation=None)
    c["ln"] = ttnn.LayerNormShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=gs, subblock_w=4, block_h=mtiles, block_w=kt // g, inplace=True)
    c["softmax"] = ttnn.SoftmaxShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=gs, subblock_w=6, block_h=hpg * mtiles, block_w=mtiles)
    return c


def regroup_qkv(wq, wk, wv, g):
    """[in, out] fused weight whose G column groups hold [q_g | k_g | v_g]."""
    parts = []
    n = wq.shape[1] // g
    for i in range(g):
        sl = slice(i * n, (i + 1) * n)
        parts += [wq[:, sl], wk[:, sl], wv[:, sl]]
    return torch.cat(parts, dim=1)


def random_layer_weights(d: Dims, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    h, i = d.hidden, d.inter

    def w(*shape, scale=0.02):
        return torch.randn(*shape, generator=gen) * scale

    return {
        "wq": w(h, h), "wk": w(h, h), "wv": w(h, h), "bq": w(h), "bk": w(h), "bv": w(h),
        "wo": w(h, h), "bo": w(h), "ln1_g": 1 + w(h, scale=0.1), "ln1_b": w(h),
        "w1": w(h, i), "b1": w(i), "w2": w(i, h), "b2": w(h), "ln2_g": 1 + w(h, scale=0.1), "ln2_b": w(h),
    }


def prepare_layer(ttnn, device, d: Dims, wts):
    g = d.grid_cols
    bf8, bf16 = ttnn.bfloat8_b, ttnn.bfloat16

    def weight(x):
        return ttnn.to_device(ttnn.from_torch(x, dtype=bf8, layout=ttnn.TILE_LAYOUT), device,
                              memory_config=ttnn.DRAM_MEMORY_CONFIG)

    def bias(x):
        return ttnn.to_device(ttnn.from_torch(x.reshape(1, 1, 1, -1), dtype=bf8, layout=ttnn.TILE_LAYOUT), device,
                              memory_config=ttnn.DRAM_MEMORY_CONFIG)

    def gamma(x):
        return ttnn.to_device(ttnn.from_torch(x.reshape(1, 1, -1, 32), dtype=bf16, layout=ttnn.ROW_MAJOR_LAYOUT),
                              device, memory_config=ttnn.DRAM_MEMORY_CONFIG)

    return {
        "qkv_w": weight(regroup_qkv(wts["wq"], wts["wk"], wts["wv"], g)),
        "qkv_b": bias(regroup_qkv(wts["bq"][None], wts["bk"][None], wts["bv"][None], g)[0]),
        "o_w": weight(wts["wo"]), "o_b": bias(wts["bo"]),
        "ln1_g": gamma(wts["ln1_g"]), "ln1_b": gamma(wts["ln1_b"]),
        "ff1_w": weight(wts["w1"]), "ff1_b": bias(wts["b1"]),
        "ff2_w": weight(wts["w2"]), "ff2_b": bias(wts["b2"]),
        "ln2_g": gamma(wts["ln2_g"]), "ln2_b": gamma(wts["ln2_b"]),
    }


def encoder_layer(ttnn, x, mask, w, c, d: Dims):
    """One encoder layer, 11 device ops, activations sharded in L1 (tt-bert-reference.md §2)."""
    bf8 = ttnn.bfloat8_b
    # metal_BERT_large_11 (mha.py, RESERVE_SPLIT_HEADS_SHAPE = [1, 1, 1, 153 * 1024 // 2] bf16 in L1): a block the
    # size of one QKV output shard, taken before QKV and freed right after it, so Q, K^T and V land in its hole above
    # the QKV output instead of below it; freeing QKV then leaves one free block for the bf16 scores (without it the
    # scores find L1 fragmented on Grayskull: tests/emulator/test_l1_accounting.py, compiler/l1_plan.py).
    rows, cols = c["block_qkv"].shard_spec.shape
    reserve = ttnn.from_torch(torch.zeros(1, 1, 1, (rows // 32) * (cols // 32) * 1088 // 2), dtype=ttnn.bfloat16,
                              layout=ttnn.ROW_MAJOR_LAYOUT, device=x.device(), memory_config=ttnn.L1_MEMORY_CONFIG)
    qkv = ttnn.linear(x, w["qkv_w"], bias=w["qkv_b"], program_config=c["qkv"], memory_config=c["block_qkv"],
                      dtype=bf8)
    ttnn.deallocate(reserve)
    # the grouped QKV columns are what the experimental op's sharded kernels read (2 heads per core column)
    q, k, v = ttnn.experimental.split_query_key_value_and_split_heads(
        qkv, c["grid"], num_heads=d.heads, memory_config=c["height"])
    ttnn.deallocate(qkv)
    scores = ttnn.matmul(q, k, program_config=c["qk"], memory_config=c["scores"],
                         dtype=ttnn.bfloat16 if d.scores_bf16 else bf8)
    ttnn.deallocate(q)
    ttnn.deallocate(k)
    scores = ttnn.scale_mask_softmax_in_place(scores, 1.0 / math.sqrt(d.head_dim), mask,
                                              program_config=c["softmax"])
    ctx = ttnn.matmul(scores, v, program_config=c["pv"], memory_config=c["context"], dtype=bf8)
    ttnn.deallocate(scores)
    ttnn.deallocate(v)
    ctx2 = ttnn.experimental.nlp_concat_heads(ctx, memory_config=c["block_hidden"])
    ttnn.deallocate(ctx)
    attn = ttnn.linear(ctx2, w["o_w"], bias=w["o_b"], program_config=c["selfout"], memory_config=c["block_hidden"],
                       dtype=bf8)
    ttnn.deallocate(ctx2)
    attn = ttnn.layer_norm(attn, residual_input_tensor=x, weight=w["ln1_g"], bias=w["ln1_b"], epsilon=d.eps,
                           memory_config=c["block_hidden"], program_config=c["ln"])
    ttnn.deallocate(x)
    ff1 = ttnn.linear(attn, w["ff1_w"], bias=w["ff1_b"], program_config=c["ff1"], memory_config=c["block_ff1"],
                      dtype=bf8)
    ff2 = ttnn.linear(ff1, w["ff2_w"], bias=w["ff2_b"], program_config=c["ff2"], memory_config=c["block_hidden"],
                      dtype=bf8)
    ttnn.deallocate(ff1)
    out = ttnn.layer_norm(ff2, residual_input_tensor=attn, weight=w["ln2_g"], bias=w["ln2_b"], epsilon=d.eps,
                          memory_config=c["block_hidden"], program_config=c["ln"])
    ttnn.deallocate(attn)
    return out


def make_mask(ttnn, device, lengths, d: Dims):
    m = torch.zeros(d.batch, d.seq)
    for i, n in enumerate(lengths):
        m[i, n:] = -100000.0
    return ttnn.from_torch(m.reshape(d.batch, 1, d.seq // 32, 32), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT,
                           device=device, memory_config=ttnn.L1_MEMORY_CONFIG)


def torch_layer(x, lengths, wts, d: Dims):
    """fp32 reference of one HF BERT encoder layer (erf GELU)."""
    b, s, h = x.shape
    nh, dh = d.heads, d.head_dim
    q = (x @ wts["wq"] + wts["bq"]).reshape(b, s, nh, dh).transpose(1, 2)
    k = (x @ wts["wk"] + wts["bk"]).reshape(b, s, nh, dh).transpose(1, 2)
    v = (x @ wts["wv"] + wts["bv"]).reshape(b, s, nh, dh).transpose(1, 2)
    mask = torch.zeros(b, 1, 1, s)
    for i, n in enumerate(lengths):
        mask[i, ..., n:] = -100000.0
    p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + mask, dim=-1)
    ctx = (p @ v).transpose(1, 2).reshape(b, s, h)
    a = torch.nn.functional.layer_norm(ctx @ wts["wo"] + wts["bo"] + x, (h,), wts["ln1_g"], wts["ln1_b"], d.eps)
    f = torch.nn.functional.gelu(a @ wts["w1"] + wts["b1"]) @ wts["w2"] + wts["b2"]
    return torch.nn.functional.layer_norm(f + a, (h,), wts["ln2_g"], wts["ln2_b"], d.eps)
