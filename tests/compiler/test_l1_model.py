"""The L1 model: circular buffers per op family (figures derived by hand from the tt-metal factories each
kernels/ module cites), the device files' L1 base, tt-metal's free-list allocator, and the plan of the seeds."""
import pytest

from compiler.check_schedule import probe
from compiler.model_source import resolve_model
from compiler.schedule import default_schedule_for, find_device
from kernels import attention, data_movement, layernorm, matmul, softmax
from kernels.allocator import L1Allocator, L1OutOfMemory, cb_region
from kernels.common import cb_bytes

BFP8, BF16, FP32 = 1088, 2048, 4096   # tile bytes


def _by_name(cbs):
    return {cb.name: cb for cb in cbs}


# ---- circular buffers -----------------------------------------------------------------------------

def test_qkv_linear_cbs_wormhole():
    # per_core_M 12, per_core_N 12, in0_block_w 4, K 32 tiles: 8 K blocks, so in0/in1 double-buffered;
    # packer_l1_acc (ttnn's matmul default) with > 2 blocks packs partials as Float16_b in a CB of their own.
    cbs = matmul.linear_cbs(dict(per_core_M=12, per_core_N=12, in0_block_w=4), k_tiles=32, in0_dtype="bfloat8_b",
                            in1_dtype="bfloat8_b", out_dtype="bfloat8_b", bias_dtype="bfloat8_b",
                            fp32_dest_acc_en=False, packer_l1_acc=True, in0_shard_width_tiles=4)
    c = _by_name(cbs)
    assert c["in0"].bytes == 12 * 4 * 2 * BFP8 and c["in1"].bytes == 12 * 4 * 2 * BFP8
    assert c["bias"].bytes == 12 * BFP8 and c["l1_scratch"].bytes == 64
    assert c["in0_shard"].bytes == 0 and c["out"].bytes == 0          # on the input / output shards
    assert c["partials"].bytes == 144 * BF16
    assert cb_bytes(cbs) == 516928


def test_linear_without_packer_l1_acc_shares_the_output_cb():
    cbs = matmul.linear_cbs(dict(per_core_M=12, per_core_N=4, in0_block_w=16), k_tiles=128, in0_dtype="bfloat8_b",
                            in1_dtype="bfloat8_b", out_dtype="bfloat8_b", bias_dtype="bfloat8_b",
                            fp32_dest_acc_en=False, packer_l1_acc=False, in0_shard_width_tiles=16)
    assert "partials" not in _by_name(cbs)
    assert cb_bytes(cbs) == (12 * 16 * 2 + 4 * 16 * 2 + 4) * BFP8 + 64 == 561472   # Grayskull's FF2


def test_single_k_block_is_not_double_buffered():
    c = _by_name(matmul.linear_cbs(dict(per_core_M=2, per_core_N=2, in0_block_w=4), k_tiles=4, in0_dtype="bfloat16",
                                   in1_dtype="bfloat16", out_dtype="bfloat16", bias_dtype=None,
                                   fp32_dest_acc_en=False, packer_l1_acc=True))
    assert c["in0"].pages == 8 and "bias" not in c and "in0_shard" not in c and "partials" not in c


def test_attention_matmuls_take_no_l1_of_their_own():
    for cfg, k in ((dict(per_core_M=24, per_core_N=12, in0_block_w=2), 2), (dict(per_core_M=24, per_core_N=2, in0_block_w=12), 12)):
        cbs = matmul.batched_cbs(cfg, k_tiles=k, in0_dtype="bfloat8_b", in1_dtype="bfloat8_b", out_dtype="bfloat8_b",
                                 fp32_dest_acc_en=False, packer_l1_acc=True)
        assert cb_bytes(cbs) == 0 and all(cb.aliases for cb in cbs)
    # fp32 accumulation makes the partials Float32, in a CB of per_core_M x per_core_N tiles
    cbs = matmul.batched_cbs(dict(per_core_M=24, per_core_N=12, in0_block_w=2), k_tiles=2, in0_dtype="bfloat8_b",
                             in1_dtype="bfloat8_b", out_dtype="bfloat8_b", fp32_dest_acc_en=True, packer_l1_acc=False)
    assert cb_bytes(cbs) == 24 * 12 * FP32


def test_softmax_cbs():
    cbs = softmax.softmax_cbs(block_h=24, block_w=12, in_dtype="bfloat8_b", mask_dtype="bfloat16",
                              fp32_dest_acc_en=False, numeric_stable=True)
    # 4 single tiles (scaler, scale, 1/sum, max) + 4 x block_w (mask, masked scores, exps, x), all bf16
    assert cb_bytes(cbs) == 4 * BF16 + 4 * 12 * BF16 == 106496
    unstable = softmax.softmax_cbs(block_h=24, block_w=12, in_dtype="bfloat8_b", mask_dtype="bfloat16",
                                   fp32_dest_acc_en=False, numeric_stable=False)
    assert cb_bytes(cbs) - cb_bytes(unstable) == BF16 + 12 * BF16


def test_layernorm_sharded_cbs():
    kw = dict(block_h=12, block_w=4, k_tiles=32, num_blocks=8, in_dtype="bfloat8_b", out_dtype="bfloat8_b",
              gamma_dtype="bfloat16", beta_dtype="bfloat16", has_residual=True)
    c = _by_name(layernorm.layernorm_sharded_cbs(fp32_dest_acc_en=True, **kw))
    assert c["x"].bytes == c["xmm"].bytes == 48 * FP32
    assert c["ex_external"].pages == 8 and c["ex2pe"].pages == 2        # Kt / block_w; ceil(12 / 8 blocks)
    assert c["gamma"].bytes == 4 * BF16 and c["scaler_c"].bytes == BF16
    assert c["in0"].bytes == c["residual"].bytes == c["out"].bytes == 0
    assert cb_bytes(c.values()) == 735232
    assert cb_bytes(layernorm.layernorm_sharded_cbs(fp32_dest_acc_en=False, **kw)) == 378880   # Grayskull


def test_head_split_concat_and_conversions():
    assert cb_bytes(attention.split_heads_cbs(block_ht=12, block_wt=12, dtype="bfloat8_b")) == 24 * BFP8
    assert cb_bytes(attention.concat_heads_cbs(shard_tiles=48, dtype="bfloat8_b")) == 0
    i2s = data_movement.interleaved_to_sharded_cbs(shard_tiles=48, in_dtype="bfloat16", out_dtype="bfloat8_b",
                                                   dram_alignment=32)
    assert cb_bytes(i2s) == 48 * BF16 + 4 * 2080
    assert cb_bytes(data_movement.sharded_to_interleaved_cbs(shard_tiles=48, in_dtype="bfloat8_b",
                                                             out_dtype="bfloat8_b")) == 0


# ---- device files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,size,base", [
    ("wormhole_n300", 1499136, 105824),       # MEM_L1_SIZE 1464 KiB; MEM_MAP_END 35168 + 69 KiB, 32-B aligned
    ("wormhole_n300_eth", 1499136, 105824),
    ("grayskull_e150", 1048576, 173440),      # 1 MiB; MEM_MAP_END 102784 + 69 KiB
    ("blackhole_p150", 1572864, 111744),      # 1536 KiB; MEM_MAP_END 41088 + 69 KiB, 64-B aligned
])
def test_device_l1_base(name, size, base):
    d = find_device(name)
    assert (d.l1_bytes_per_core, d.l1_unreserved_base, d.l1_usable_bytes) == (size, base, size - base)


# ---- the allocator ----------------------------------------------------------------------------------

def test_allocator_top_down_and_merge():
    a = L1Allocator(l1_bytes=1 << 20, base=100 * 1024)
    x = a.allocate(1000)
    assert x == (1 << 20) - 1008                       # top down, 16-B aligned
    y = a.allocate(4096)
    assert y == x - 4096 and a.lowest_occupied == y
    a.free(x)
    assert a.lowest_occupied == y and a.stats()["free_blocks"] == 2
    a.free(y)
    assert a.lowest_occupied is None and a.stats()["largest_free"] == a.size


def test_allocator_fills_the_newest_fitting_hole_first():
    a = L1Allocator(l1_bytes=1 << 20, base=0)
    top, mid, low = a.allocate(64 * 1024), a.allocate(64 * 1024), a.allocate(64 * 1024)
    a.free(top)
    a.free(low)          # merges with the big free block below
    # a 64 KiB hole at the top and the large block below sit in different size classes: best fit takes the hole
    assert a.allocate(60 * 1024) == top + 4 * 1024


def test_allocator_out_of_memory_reports_fragmentation():
    a = L1Allocator(l1_bytes=64 * 1024, base=0)
    blocks = [a.allocate(8 * 1024) for _ in range(8)]
    for b in blocks[::2]:
        a.free(b)
    with pytest.raises(L1OutOfMemory) as e:
        a.allocate(16 * 1024)
    assert e.value.stats["free"] == 32 * 1024 and e.value.stats["largest_free"] == 8 * 1024


def test_cb_region_clash():
    r = cb_region([1000, 64], base=1024, lowest_buffer=2048, l1_bytes=4096, dram_alignment=32)
    assert (r.end, r.headroom, r.clash) == (1024 + 1024 + 64, -64, True)


# ---- the plan of the seeds ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bert_large():
    return resolve_model(None).bert_config()


@pytest.mark.parametrize("name,batch", [("wormhole_n300", 7), ("wormhole_n300_eth", 8), ("grayskull_e150", 12)])
def test_seed_schedules_fit_with_cbs_counted(bert_large, name, batch):
    d = find_device(name)
    pr = probe(d, default_schedule_for(d), bert_large, batch)
    assert pr.ok, pr.error
    plan = pr.program.l1_plan
    assert len(plan.ops) == len(pr.program.ops) and plan.error is None
    assert all(o.headroom >= 0 for o in plan.ops)
    layer0 = {op.role: o for op, o in zip(pr.program.ops, plan.ops) if op.layer == 0}
    assert layer0["attention_scores"].cb_bytes == 0 and layer0["attention_probs"].cb_bytes == 106496
    # every buffer lies in [L1 base, L1 end) and no two live buffers overlap (checked per op)
    for o in plan.ops:
        for b in o.buffers:
            assert d.l1_unreserved_base <= b["address"] < d.l1_bytes_per_core
