"""What the emitted program asks of the chip: the head-split op that matches the QKV layout, how the device is
opened (dispatch cores per API level), compute kernel configs with their legality, layernorm reduction fields,
the GELU choice, and named constants."""
import ast
import re
from pathlib import Path

import pytest

from compiler.build import compile_model
from compiler.errors import LegalityError, ScheduleError
from compiler.schedule import find_device, load_device, load_schedule

ROOT = Path(__file__).resolve().parents[2]


def _edited(tmp_path, folder, name, replace) -> Path:
    """A copy of a shipped schedule or device file with the given text replaced (each old text must occur)."""
    text = (ROOT / "schedules" / folder / f"{name}.yaml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{folder}-{name}.yaml"
    path.write_text(text)
    return path


def _schedule(tmp_path, device, replace):
    return load_schedule(_edited(tmp_path, "bert", device, replace))


def _calls(source: str, name: str) -> list[ast.Call]:
    tree = ast.parse(source)
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == name]


@pytest.fixture(scope="module")
def builds():
    return {d: compile_model(batch=b, device=find_device(d)) for d, b in
            [("grayskull_e150", 12), ("wormhole_n300", 7), ("wormhole_n300_eth", 8)]}


def test_head_split_is_the_op_that_reads_the_grouped_layout(builds):
    for result in builds.values():
        src = result.source
        assert "groups=HEAD_GROUPS" in src          # prepare_weights writes [q_g | k_g | v_g] per core column
        (split,) = _calls(src, "ttnn.experimental.split_query_key_value_and_split_heads")
        assert [ast.unparse(a) for a in split.args] == ["qkv", "GRID"]
        assert {k.arg: ast.unparse(k.value) for k in split.keywords} == {"num_heads": "NUM_HEADS",
                                                                        "memory_config": "HEIGHT_SHARDED_MEMCFG"}
        # the non-experimental op's sharded path wants heads interleaved: pairing it with these weights is wrong
        assert not _calls(src, "ttnn.transformer.split_query_key_value_and_split_heads")
        assert re.search(rf"^HEAD_GROUPS = {result.program.hidden_cores}$", src, re.M)


def test_eth_dispatch_build_opens_its_grid_through_dispatch_core_config(builds):
    eth, tensix = builds["wormhole_n300_eth"].source, builds["wormhole_n300"].source
    for src, kind in ((eth, "ETH"), (tensix, "WORKER")):
        (call,) = _calls(src, "ttnn.open_device")
        kw = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert kw["dispatch_core_config"] == f"ttnn.DispatchCoreConfig(ttnn.DispatchCoreType.{kind})"
        assert "WH_ARCH_YAML" not in src and "REQUIRED_ENV" not in src
        assert "enable_program_cache" not in src            # ttnn 0.81 caches programs by default
    assert builds["wormhole_n300_eth"].manifest["open_device"]["dispatch_core_type"] == "ETH"
    assert builds["wormhole_n300_eth"].manifest["required_env"] == {}


def test_grayskull_program_speaks_api_v055(builds):
    src = builds["grayskull_e150"].source
    assert 'TTNN_API = "v0.55"' in src
    (call,) = _calls(src, "ttnn.open_device")
    assert {k.arg for k in call.keywords} == {"device_id", "l1_small_size"}   # no DispatchCoreConfig keyword needed
    assert "device.enable_program_cache()" in src
    assert src.count("ttnn.GrayskullComputeKernelConfig(") == 3 and "WormholeComputeKernelConfig" not in src
    assert "legacy_reduction" not in src and "use_welford" not in src and "fp32_dest_acc_en" not in src


def test_every_compute_op_gets_its_familys_compute_kernel_config(builds):
    src = builds["wormhole_n300"].source
    expected = {"ttnn.linear": "MATMUL_COMPUTE_CONFIG", "ttnn.matmul": "MATMUL_COMPUTE_CONFIG",
                "ttnn.scale_mask_softmax_in_place": "SOFTMAX_COMPUTE_CONFIG", "ttnn.layer_norm": "LAYERNORM_COMPUTE_CONFIG"}
    for func, name in expected.items():
        calls = _calls(src, func)
        assert calls and all({k.arg: ast.unparse(k.value) for k in c.keywords}["compute_kernel_config"] == name
                              for c in calls), func
    # ttnn 0.81's own defaults for these ops, now explicit (schedules/bert/wormhole_n300.yaml says where from)
    assert ("MATMUL_COMPUTE_CONFIG = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi, "
            "math_approx_mode=False, fp32_dest_acc_en=False, packer_l1_acc=True)") in src
    assert ("LAYERNORM_COMPUTE_CONFIG = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, "
            "math_approx_mode=False, fp32_dest_acc_en=True, packer_l1_acc=False)") in src
    assert "SOFTMAX_COMPUTE_CONFIG = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4" in src
    for op in builds["wormhole_n300"].manifest["ops"]:
        if op["ttnn_op"] in expected:
            assert op["compute_kernel_config"]["type"] == "WormholeComputeKernelConfig", op["name"]
    ln = [op for op in builds["wormhole_n300"].manifest["ops"] if op["role"] == "output_layernorm"][0]
    assert ln["program_config"]["legacy_reduction"] is True and ln["program_config"]["use_welford"] is False


def test_fp32_accumulation_halves_the_subblock(tmp_path):
    from kernels.common import Violation
    from kernels.matmul import linear_config

    fp32 = {"matmul:    {math_fidelity: LoFi, math_approx_mode: false, fp32_dest_acc_en: false":
            "matmul:    {math_fidelity: HiFi2, math_approx_mode: false, fp32_dest_acc_en: true"}
    # With fp32 accumulation the attention matmuls' partials are Float32 and no longer share the output CB
    # (matmul_multicore_reuse_optimized_program_factory.cpp): 24 x 12 tiles x 4 KiB cannot fit L1.
    with pytest.raises(LegalityError, match=r"layer0\.attention_scores: circular buffers fit below the lowest L1 buffer "
                                            r"violated \(1179648 B .*compute\.attention_matmul\.fp32_dest_acc_en"):
        compile_model(batch=7, device=find_device("wormhole_n300"), schedule=_schedule(tmp_path, "wormhole_n300", fp32))
    # The derivation: 4 destination tiles with fp32 accumulation (FF1: 1 x 4 instead of 1 x 8)
    ff1 = dict(m_tiles=84, k_tiles=32, n_tiles=128, grid=(8, 7), hidden_cores=8, batch_cores=7, transpose_mcast=False,
               activation="gelu", key="overrides.ff1", max_subblock=4)
    cfg = linear_config(override={}, **ff1)
    assert (cfg.fields["out_subblock_h"], cfg.fields["out_subblock_w"]) == (1, 4)
    # an override that only fits 8 destination tiles is refused, naming the rule and the key
    with pytest.raises(Violation, match=r"out_subblock_h \* out_subblock_w <= 4 \(fp32_dest_acc_en\)"):
        linear_config(override={"out_subblock_h": 1, "out_subblock_w": 8}, **ff1)


def test_grayskull_refuses_fp32_accumulation(tmp_path):
    fp32 = {"matmul:    {math_fidelity: LoFi, math_approx_mode: false}":
            "matmul:    {math_fidelity: LoFi, math_approx_mode: false, fp32_dest_acc_en: true}"}
    with pytest.raises(LegalityError, match="Grayskull has no fp32_dest_acc_en.*compute.matmul.fp32_dest_acc_en"):
        compile_model(batch=12, device=find_device("grayskull_e150"), schedule=_schedule(tmp_path, "grayskull_e150", fp32))


def test_gelu_choice_is_emitted(tmp_path):
    erf = compile_model(batch=7, device=find_device("wormhole_n300"),
                        schedule=_schedule(tmp_path, "wormhole_n300", {"gelu: fast_approximate": "gelu: erf"}))
    assert "fused_activation=(ttnn.UnaryOpType.GELU, False)" in erf.source
    assert "(ttnn.UnaryOpType.GELU, True)" not in erf.source


def test_layer_body_uses_named_constants(builds):
    src = builds["wormhole_n300"].source
    body = src[src.index("def prepare_weights"):src.index("def postprocess")]
    for literal in ("3072", "4096", "1024", "groups=8", "num_heads=16"):
        assert literal not in body, literal
    assert "reshape(1, 1, 1, QKV_WIDTH)" in body and "reshape(1, 1, HIDDEN_SIZE // 32, 32)" in body


@pytest.mark.parametrize("replace,message", [
    ({"select_env: {}": "select_env: {WH_ARCH_YAML: wormhole_b0_80_arch_eth_dispatch.yaml}"},
     "'select_env' is only real at ttnn API v0.55"),
    ({"dispatch_core_type: ETH": "dispatch_core_type: WORKER"},
     "'dispatch: ethernet' needs 'open_device.dispatch_core_type: ETH'"),
    ({"num_command_queues: 1": "num_command_queues: 2"}, "emitted programs run on one command queue: set 1"),
    ({"dispatch_core_type: ETH": "dispatch_core_type: ETHERNET"}, "expected one of WORKER, ETH"),
])
def test_device_file_says_how_the_chip_is_opened(tmp_path, replace, message):
    with pytest.raises(ScheduleError, match=re.escape(message)):
        load_device(_edited(tmp_path, "devices", "wormhole_n300_eth", replace))


def test_grayskull_device_must_target_v055(tmp_path):
    with pytest.raises(ScheduleError, match="Grayskull runs only the TT-NN API of tt-metal v0.55"):
        load_device(_edited(tmp_path, "devices", "grayskull_e150", {'ttnn_api: "v0.55"': 'ttnn_api: "0.81"'}))
