"""Head split and head concatenation: data movement that stays core-local when each core's
column block holds the q, k and v of whole heads."""
from __future__ import annotations

from .common import TILE, require


def check_head_layout(*, hidden: int, num_heads: int, hidden_cores: int, key: str) -> None:
    head_dim = hidden // num_heads
    require(num_heads % hidden_cores == 0, "heads split evenly across hidden cores",
            f"{num_heads} heads over {hidden_cores} cores", "activation_grid.hidden_cores")
    require(head_dim % TILE == 0, "head size is tile-aligned", f"head size {head_dim} % {TILE} != 0", key)
