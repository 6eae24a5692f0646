"""A program written like the compiler's emitted module runs under the emulator via ``import ttnn``."""

import importlib.util

import torch

import runtime.emulator as emulator

PROGRAM = '''
import torch
import ttnn

BATCH, SEQ, HIDDEN = 2, 64, 64
GRID = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 1))})
BLOCK = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.BLOCK_SHARDED, ttnn.BufferType.L1,
                          ttnn.ShardSpec(GRID, [64, 32], ttnn.ShardOrientation.ROW_MAJOR))
LN = ttnn.LayerNormShardedMultiCoreProgramConfig(compute_with_storage_grid_size=ttnn.CoreCoord(2, 2), subblock_w=1,
                                                 block_h=2, block_w=1, inplace=True)
FF = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
    compute_with_storage_grid_size=ttnn.CoreCoord(2, 2), in0_block_w=1, out_subblock_h=1, out_subblock_w=1,
    per_core_M=2, per_core_N=1, transpose_mcast=False, fused_activation=(ttnn.UnaryOpType.GELU, False))


def prepare_weights(state_dict):
    return {
        "w": ttnn.from_torch(state_dict["w"], dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT),
        "b": ttnn.from_torch(state_dict["b"].reshape(1, 1, 1, -1), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT),
        "g": ttnn.from_torch(state_dict["g"].reshape(1, 1, -1, 32), dtype=ttnn.bfloat16,
                             layout=ttnn.ROW_MAJOR_LAYOUT),
        "qa": ttnn.from_torch(state_dict["qa"], dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT),
    }


def weights_to_device(host_weights, device):
    return {k: ttnn.to_device(v, device, memory_config=ttnn.DRAM_MEMORY_CONFIG) for k, v in host_weights.items()}


def prepare_inputs(x, device):
    return {"x": ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device,
                                 memory_config=ttnn.L1_MEMORY_CONFIG)}


def forward(inputs, weights):
    x = ttnn.interleaved_to_sharded(inputs["x"], BLOCK, ttnn.bfloat8_b)
    h = ttnn.linear(x, weights["w"], bias=weights["b"], program_config=FF, memory_config=BLOCK, dtype=ttnn.bfloat8_b)
    h = ttnn.layer_norm(h, residual_input_tensor=x, weight=weights["g"], epsilon=1e-12, memory_config=BLOCK,
                        program_config=LN)
    ttnn.deallocate(x)
    hi = ttnn.sharded_to_interleaved(h, ttnn.L1_MEMORY_CONFIG)
    ttnn.deallocate(h)
    return ttnn.linear(hi, weights["qa"], memory_config=ttnn.L1_MEMORY_CONFIG, dtype=ttnn.bfloat16)


def postprocess(output):
    t = ttnn.to_torch(output)
    return t[..., 0], t[..., 1]
'''


def test_emitted_style_module(tmp_path):
    path = tmp_path / "emitted_program.py"
    path.write_text(PROGRAM)
    # the fp32 executor: the module's meaning without device rounding (that arithmetic: test_compute_numerics.py)
    with emulator.emulated_ttnn("wormhole_n300") as ttnn, emulator.formats.numerics("fp32"):
        spec = importlib.util.spec_from_file_location("emitted_program", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        assert mod.ttnn is ttnn
        g = torch.Generator().manual_seed(0)
        sd = {"w": torch.randn(64, 64, generator=g) * 0.1, "b": torch.randn(64, generator=g),
              "g": torch.ones(64), "qa": torch.randn(64, 32, generator=g) * 0.1}
        dev = ttnn.open_device(device_id=0)
        try:
            weights = mod.weights_to_device(mod.prepare_weights(sd), dev)
            x = torch.randn(2, 64, 64, generator=g)
            start, end = mod.postprocess(mod.forward(mod.prepare_inputs(x, dev), weights))
            assert start.shape == (2, 64) and end.shape == (2, 64)
            h = torch.nn.functional.gelu(x @ sd["w"] + sd["b"].reshape(1, -1))
            h = torch.nn.functional.layer_norm(h + x, (64,), eps=1e-12)
            ref = h @ sd["qa"]
            assert torch.allclose(start.float(), ref[..., 0], rtol=1e-4, atol=1e-4)
        finally:
            ttnn.close_device(dev)


def test_tensor_constructor_like_ttnn(ttnn):
    import numpy as np

    x = np.random.RandomState(0).randn(40, 50).astype(np.float32)
    t = ttnn.Tensor(x, ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT)
    assert t.shape == [40, 50] and t.padded_shape == [64, 64]
    assert torch.equal(ttnn.to_torch(t), emulator.formats.quantize_bfloat8_b(torch.from_numpy(x)))
