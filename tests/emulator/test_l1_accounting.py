"""Per-core L1 accounting on a hand-computed sequence (2 x 2 cores, 64 KiB each)."""

import numpy as np
import pytest
import torch

from runtime.emulator.ttnn.tensor import l1_bytes_per_core


def grid(ttnn, x, y):
    return ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(x - 1, y - 1))})


def test_hand_computed_sequence(ttnn, small_device):
    dev = small_device
    L1 = ttnn.L1_MEMORY_CONFIG

    # 1. 64 x 64 bf16 tiles interleaved: 4 tiles over 4 cores -> 1 tile = 2048 B per core
    a = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev,
                        memory_config=L1)
    assert dev.l1_allocated_bytes_per_core() == 2048

    # 2. 128 x 64 bfloat8_b block-sharded on 2 x 2, shard 64 x 32: 2 tiles x 1088 = 2176 B per core
    blk = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
                            ttnn.ShardSpec(grid(ttnn, 2, 2), [64, 32], ttnn.ShardOrientation.ROW_MAJOR))
    b = ttnn.from_torch(torch.randn(128, 64), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=dev,
                        memory_config=blk)
    assert dev.l1_allocated_bytes_per_core() == 2048 + 2176

    # 3. row-major bf16 [3, 5, 40] interleaved: 15 rows of 80 B, ceil(15 / 4) = 4 rows = 320 B per core
    c = ttnn.from_torch(torch.randn(3, 5, 40), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=dev,
                        memory_config=L1)
    assert dev.l1_allocated_bytes_per_core() == 4544

    # 4. 128 x 64 bf16 height-sharded on the 2 cores of row 0, shard 64 x 64: 4 tiles = 8192 B there only
    hgt = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1,
                            ttnn.ShardSpec(grid(ttnn, 2, 1), [64, 64], ttnn.ShardOrientation.ROW_MAJOR))
    d = ttnn.from_torch(torch.randn(128, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev,
                        memory_config=hgt)
    assert dev.l1_allocated_bytes_per_core() == 4544 + 8192
    assert np.array_equal(dev.l1_allocated_bytes_by_core(), [[12736, 12736], [4544, 4544]])

    # 5. in-place softmax: nothing new
    cfg = ttnn.SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size=(2, 1), subblock_w=1, block_h=2,
                                                    block_w=2)
    assert ttnn.scale_mask_softmax_in_place(d, program_config=cfg) is d
    assert dev.l1_allocated_bytes_per_core() == 12736

    # 6. deallocate, and 7. the last Python reference going away, free
    ttnn.deallocate(a)
    assert dev.l1_allocated_bytes_per_core() == 10688
    del c
    assert dev.l1_allocated_bytes_per_core() == 10368
    assert dev.l1_peak_bytes_per_core() == 12736

    # 8. DRAM outputs cost no L1
    w = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=dev,
                        memory_config=ttnn.DRAM_MEMORY_CONFIG)
    e = ttnn.matmul(b, w, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    assert dev.l1_allocated_bytes_per_core() == 10368 and e.memory_config() == ttnn.DRAM_MEMORY_CONFIG

    # 9. peak reset, 10. an op output in L1 (same block sharding as b): +2176 everywhere
    dev.reset_l1_peak()
    assert dev.l1_peak_bytes_per_core() == 10368
    f = ttnn.add(b, b)
    assert f.memory_config() == blk
    assert np.array_equal(dev.l1_allocated_bytes_by_core(), [[12544, 12544], [4352, 4352]])
    assert dev.l1_peak_bytes_per_core() == 12544

    # 11. everything freed
    for t in (b, d, f):
        ttnn.deallocate(t)
    assert dev.l1_allocated_bytes_per_core() == 0


def test_interleaved_pages_round_robin(ttnn, small_device):
    # 96 x 96 bf16: 9 tiles over 4 cores -> every core is charged ceil(9/4) = 3 tiles
    assert l1_bytes_per_core((96, 96), ttnn.TILE_LAYOUT, ttnn.bfloat16, ttnn.L1_MEMORY_CONFIG, small_device) == 6144
    assert l1_bytes_per_core((96, 96), ttnn.TILE_LAYOUT, ttnn.bfloat4_b, ttnn.L1_MEMORY_CONFIG, small_device) == 1728
    assert l1_bytes_per_core((96, 96), ttnn.TILE_LAYOUT, ttnn.float32, ttnn.L1_MEMORY_CONFIG, small_device) == 12288
    assert l1_bytes_per_core((96, 96), ttnn.TILE_LAYOUT, ttnn.bfloat16, ttnn.DRAM_MEMORY_CONFIG, small_device) == 0


def test_reference_sizes(ttnn, device):
    """tt-bert-reference.md §3 per-core numbers (bfloat8_b): 48, 144, 192 and 288 tiles."""
    g = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 6))})

    def blk(h, w):
        return ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
                                 ttnn.ShardSpec(g, [h, w], ttnn.ShardOrientation.ROW_MAJOR))

    bf8 = ttnn.bfloat8_b
    assert l1_bytes_per_core((7, 384, 1024), ttnn.TILE_LAYOUT, bf8, blk(384, 128), device) == 48 * 1088
    assert l1_bytes_per_core((7, 384, 3072), ttnn.TILE_LAYOUT, bf8, blk(384, 384), device) == 144 * 1088
    assert l1_bytes_per_core((7, 384, 4096), ttnn.TILE_LAYOUT, bf8, blk(384, 512), device) == 192 * 1088
    hs = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1,
                           ttnn.ShardSpec(g, [768, 384], ttnn.ShardOrientation.ROW_MAJOR))
    assert l1_bytes_per_core((7, 16, 384, 384), ttnn.TILE_LAYOUT, bf8, hs, device) == 288 * 1088


def test_views_and_in_place_share_the_allocation(ttnn, small_device):
    t = ttnn.from_torch(torch.randn(2, 64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=small_device,
                        memory_config=ttnn.L1_MEMORY_CONFIG)
    before = small_device.l1_allocated_bytes_per_core()
    v = ttnn.reshape(t, (1, 2, 64, 64))
    assert small_device.l1_allocated_bytes_per_core() == before
    del t
    assert small_device.l1_allocated_bytes_per_core() == before  # v still holds the buffer
    ttnn.deallocate(v, force=False)
    assert small_device.l1_allocated_bytes_per_core() == 0


def test_addresses_and_fragmentation_come_from_the_allocator(ttnn):
    """Buffers get tt-metal's allocator addresses (kernels/allocator.py: top down above the base); a request no free
    block holds is refused although enough L1 is free in total."""
    from tests.emulator.conftest import _open
    import runtime.emulator as emulator

    dev = _open("frag", arch="wormhole_b0", grid=(1, 1), l1_bytes=64 * 1024 + 1024, dram_banks=1, l1_unreserved_base=1024)
    try:
        blocks = [ttnn.from_torch(torch.zeros(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev,
                                  memory_config=ttnn.L1_MEMORY_CONFIG) for _ in range(8)]     # 8 KiB each
        assert [b.buffer_address() for b in blocks[:2]] == [1024 + 56 * 1024, 1024 + 48 * 1024]
        for b in blocks[::2]:
            ttnn.deallocate(b)
        with pytest.raises(ttnn.L1OutOfMemoryError, match=r"32768 B free .*largest free block 8192 B \(fragmented"):
            ttnn.from_torch(torch.zeros(128, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev,
                            memory_config=ttnn.L1_MEMORY_CONFIG)
    finally:
        ttnn.close_device(dev)
        emulator.set_device_spec("wormhole_n300")


def test_an_op_whose_circular_buffers_reach_a_buffer_is_refused(ttnn):
    """tt-metal refuses a program whose CB region (up from the allocator base) passes the lowest L1 buffer; the
    emulator applies the same rule with the CBs kernels/softmax.py sizes (here 14 KiB: scaler, 1/sum and max one
    bf16 tile each, exps and x two each)."""
    from tests.emulator.conftest import _open
    import runtime.emulator as emulator

    dev = _open("cbs", arch="wormhole_b0", grid=(1, 1), l1_bytes=24 * 1024, dram_banks=1)
    try:
        hs = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1,
                               ttnn.ShardSpec(grid(ttnn, 1, 1), [64, 64], ttnn.ShardOrientation.ROW_MAJOR))
        cfg = ttnn.SoftmaxShardedMultiCoreProgramConfig(compute_with_storage_grid_size=(1, 1), subblock_w=2,
                                                        block_h=2, block_w=2)
        x = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev,
                            memory_config=hs)                                   # [16 KiB, 24 KiB)
        ttnn.scale_mask_softmax_in_place(x, program_config=cfg, numeric_stable=True)   # CBs end at 14 KiB: fits
        filler = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev,
                                 memory_config=ttnn.L1_MEMORY_CONFIG)           # [8 KiB, 16 KiB)
        with pytest.raises(ttnn.L1OutOfMemoryError, match=r"14336 B of CBs span \[0, 14336\) but an L1 buffer starts "
                                                           r"at 8192 \(6144 B over\)"):
            ttnn.scale_mask_softmax_in_place(x, program_config=cfg, numeric_stable=True)
        del filler
    finally:
        ttnn.close_device(dev)
        emulator.set_device_spec("wormhole_n300")
