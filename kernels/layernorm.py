"""Layernorm with the residual add fused in, on block-sharded activations (in place)."""
from __future__ import annotations

from .common import MAX_SUBBLOCK_TILES, ProgramConfig, largest_divisor_at_most, require

SHARDED = "LayerNormShardedMultiCoreProgramConfig"


def layernorm_config(*, grid: tuple[int, int], block_h: int, block_w: int, override: dict, key: str,
                     max_subblock: int = MAX_SUBBLOCK_TILES, reduction: dict | None = None) -> ProgramConfig:
    """reduction: ttnn 0.81's `legacy_reduction` / `use_welford` fields (None at API v0.55, which lacks them).
    `legacy_rsqrt` is not emitted: the 0.81.1 wheel's docstring says it is deprecated and has no effect."""
    sub_w = override.get("subblock_w", largest_divisor_at_most(block_w, max_subblock))
    require(block_w % sub_w == 0, "block_w % subblock_w == 0", f"block_w={block_w}, subblock_w={sub_w}", f"{key}.subblock_w")
    require(sub_w <= max_subblock, f"subblock_w <= {max_subblock}", f"subblock_w={sub_w}", f"{key}.subblock_w")
    return ProgramConfig(SHARDED, dict(compute_with_storage_grid_size=grid, subblock_w=sub_w, block_h=block_h,
                                       block_w=block_w, inplace=True, **(reduction or {})))
