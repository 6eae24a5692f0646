"""Fused scale + mask + softmax, in place on the height-sharded attention scores."""
from __future__ import annotations

from .common import MAX_SUBBLOCK_TILES, ProgramConfig, largest_divisor_at_most, require

SHARDED = "SoftmaxShardedMultiCoreProgramConfig"


def softmax_config(*, grid: tuple[int, int], block_h: int, block_w: int, override: dict, key: str,
                   max_subblock: int = MAX_SUBBLOCK_TILES) -> ProgramConfig:
    sub_w = override.get("subblock_w", largest_divisor_at_most(block_w, max_subblock))
    require(block_w % sub_w == 0, "block_w % subblock_w == 0", f"block_w={block_w}, subblock_w={sub_w}", f"{key}.subblock_w")
    require(sub_w <= max_subblock, f"subblock_w <= {max_subblock}", f"subblock_w={sub_w}", f"{key}.subblock_w")
    return ProgramConfig(SHARDED, dict(compute_with_storage_grid_size=grid, subblock_w=sub_w, block_h=block_h, block_w=block_w))
