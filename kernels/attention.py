"""Head split and head concatenation: data movement that stays core-local when each core's
column block holds the q, k and v of whole heads.

The split is `ttnn.experimental.split_query_key_value_and_split_heads` (what metal_BERT_large_11 calls): its
sharded program factory and kernels (tt-metal ops/experimental/transformer/split_query_key_value_and_split_heads/
device/, SplitFusedQKVAndSplitHeadsShardedProgramFactory) read each core's block as six equal slices
[q_a | q_b | k_a | k_b | v_a | v_b]: exactly 2 heads per core column, hard-coded, unchecked on device (a
mismatch is silent garbage), and one sequence per core row. The concat is `ttnn.experimental.nlp_concat_heads`
(plain head order, block-sharded [S, heads_per_core * D] shards).

Circular buffers: `split_heads_cbs` from SplitFusedQKVAndSplitHeadsShardedProgramFactory::create (tt-metal
ttnn/cpp/ttnn/operations/experimental/transformer/split_query_key_value_and_split_heads/device/
split_query_key_value_and_split_heads_sharded_program_factory.cpp): c_0 on the QKV shard, c_16 / c_17 / c_18 on
the Q, K^T and V shards, and one CB of its own, c_24, 2 x block_ht tiles of the input format (the K transpose).
`concat_heads_cbs` from NLPConcatHeadsProgramFactory::create (.../nlp_concat_heads/device/
nlp_concat_heads_program_factory.cpp): with sharded input and output, c_0 and c_16 sit on their buffers (an
interleaved input would take a double-buffered CB instead)."""
from __future__ import annotations

from .common import TILE, CircularBuffer, require, tile_bytes

HEADS_PER_CORE = 2   # hard-coded in the experimental split's sharded kernels (num_heads_per_tensor = 2)


def check_head_layout(*, hidden: int, num_heads: int, hidden_cores: int, key: str) -> None:
    head_dim = hidden // num_heads
    require(num_heads % hidden_cores == 0, "heads split evenly across hidden cores",
            f"{num_heads} heads over {hidden_cores} cores", "activation_grid.hidden_cores")
    require(num_heads == HEADS_PER_CORE * hidden_cores, "the head split reads exactly 2 heads per core column",
            f"{num_heads} heads over {hidden_cores} cores", "activation_grid.hidden_cores")
    require(head_dim % TILE == 0, "head size is tile-aligned", f"head size {head_dim} % {TILE} != 0", key)


def split_heads_cbs(*, block_ht: int, block_wt: int, dtype: str, heads_per_core: int = HEADS_PER_CORE) -> list[CircularBuffer]:
    t = tile_bytes(dtype)
    out_tiles = (block_wt // 3 // heads_per_core) * block_ht * heads_per_core
    return [CircularBuffer(0, "qkv", block_ht * block_wt, t, aliases="input"),
            CircularBuffer(16, "q", out_tiles, t, aliases="output_q"),
            CircularBuffer(17, "k_t", out_tiles, t, aliases="output_k_t"),
            CircularBuffer(18, "v", out_tiles, t, aliases="output_v"),
            CircularBuffer(24, "transpose", 2 * block_ht, t)]


def concat_heads_cbs(*, shard_tiles: int, dtype: str, in_sharded: bool = True,
                     out_sharded: bool = True) -> list[CircularBuffer]:
    t = tile_bytes(dtype)
    cbs = [CircularBuffer(0, "in0", shard_tiles * (1 if in_sharded else 2), t, aliases="input" if in_sharded else None)]
    if out_sharded:
        cbs.append(CircularBuffer(16, "out", shard_tiles, t, aliases="output"))
    return cbs
