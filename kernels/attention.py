"""Head split and head concatenation: data movement that stays core-local when each core's
column block holds the q, k and v of whole heads.

The split is `ttnn.experimental.split_query_key_value_and_split_heads` (what metal_BERT_large_11 calls): its
sharded program factory and kernels (tt-metal ops/experimental/transformer/split_query_key_value_and_split_heads/
device/, SplitFusedQKVAndSplitHeadsShardedProgramFactory) read each core's block as six equal slices
[q_a | q_b | k_a | k_b | v_a | v_b]: exactly 2 heads per core column, hard-coded, unchecked on device (a
mismatch is silent garbage), and one sequence per core row. The concat is `ttnn.experimental.nlp_concat_heads`
(plain head order, block-sharded [S, heads_per_core * D] shards)."""
from __future__ import annotations

from .common import TILE, require

HEADS_PER_CORE = 2   # hard-coded in the experimental split's sharded kernels (num_heads_per_tensor = 2)


def check_head_layout(*, hidden: int, num_heads: int, hidden_cores: int, key: str) -> None:
    head_dim = hidden // num_heads
    require(num_heads % hidden_cores == 0, "heads split evenly across hidden cores",
            f"{num_heads} heads over {hidden_cores} cores", "activation_grid.hidden_cores")
    require(num_heads == HEADS_PER_CORE * hidden_cores, "the head split reads exactly 2 heads per core column",
            f"{num_heads} heads over {hidden_cores} cores", "activation_grid.hidden_cores")
    require(head_dim % TILE == 0, "head size is tile-aligned", f"head size {head_dim} % {TILE} != 0", key)
