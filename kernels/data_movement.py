"""Layout conversions between interleaved and sharded memory: their circular buffers.

- `interleaved_to_sharded_cbs`: tt-metal ttnn/cpp/ttnn/operations/data_movement/sharded/interleaved_to_sharded/
  device/interleaved_to_sharded_program_factory.cpp, InterleavedToShardedProgramFactory::create_descriptor. The
  output CB (c_0, c_16 when the dtype changes) sits on the sharded output buffer; a dtype change adds c_0, one
  shard of input pages; keep_l1_aligned (forced true there) adds c_1, 4 scratch pages of align(page + DRAM
  alignment, DRAM alignment) bytes.
- `sharded_to_interleaved_cbs`: .../sharded_to_interleaved/device/sharded_to_interleaved_program_factory.cpp,
  sharded_to_interleaved_multi_core. c_0 sits on the sharded input; a dtype change adds c_16, one shard of output
  pages.
"""
from __future__ import annotations

from .common import CircularBuffer, tile_bytes


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


def interleaved_to_sharded_cbs(*, shard_tiles: int, in_dtype: str, out_dtype: str,
                               dram_alignment: int) -> list[CircularBuffer]:
    cbs = []
    convert = in_dtype != out_dtype
    if convert:
        cbs.append(CircularBuffer(0, "input", shard_tiles, tile_bytes(in_dtype)))
    cbs.append(CircularBuffer(16 if convert else 0, "output", shard_tiles, tile_bytes(out_dtype), aliases="output"))
    cbs.append(CircularBuffer(1, "scratch", 4, _align(tile_bytes(in_dtype) + dram_alignment, dram_alignment)))
    return sorted(cbs, key=lambda cb: cb.index)


def sharded_to_interleaved_cbs(*, shard_tiles: int, in_dtype: str, out_dtype: str) -> list[CircularBuffer]:
    cbs = [CircularBuffer(0, "input", shard_tiles, tile_bytes(in_dtype), aliases="input")]
    if in_dtype != out_dtype:
        cbs.append(CircularBuffer(16, "output", shard_tiles, tile_bytes(out_dtype)))
    return cbs
