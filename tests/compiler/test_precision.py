"""`build --precision`: the reference profile is the schedule as written; `accurate` lays
schedules/precision/accurate.yaml over it, with the legality that follows (fp32 Dst halves the subblock)."""
import re

import pytest

from compiler.build import compile_model
from compiler.cli import main
from compiler.errors import ScheduleError
from compiler.schedule import default_schedule_for, find_device, precision_profiles, with_precision


def _subblocks(source: str) -> dict:
    """Output subblock tiles (h * w) per op role."""
    found = re.findall(r"^(\w+)_PROGRAM_CONFIG = ttnn.Matmul.*out_subblock_h=(\d+), out_subblock_w=(\d+)", source, re.M)
    return {role.lower(): int(h) * int(w) for role, h, w in found}


def test_profiles_listed_from_the_folder():
    assert precision_profiles() == ("reference", "accurate")


def test_reference_profile_is_the_schedule_unchanged():
    sched = default_schedule_for(find_device("wormhole_n300"))
    assert with_precision(sched, "reference", "wormhole_b0") is sched


def test_accurate_on_wormhole_emits_exact_functions_hifi2_and_fp32_accumulation():
    ref = compile_model(batch=7, device=find_device("wormhole_n300"))
    acc = compile_model(batch=7, device=find_device("wormhole_n300"), precision="accurate")
    ref_sub, acc_sub = _subblocks(ref.source), _subblocks(acc.source)
    assert ref_sub["ff1"] == 8 and ref_sub["attention_context"] == 8   # the reference's 1x8 and 4x2 subblocks
    linear = ("qkv", "self_out", "ff1", "ff2")
    assert all(acc_sub[r] <= 4 for r in linear), acc_sub   # fp32 Dst holds half as many tiles
    # the attention matmuls keep bf16 Dst (fp32 partials would need a CB of their whole output) and their subblocks
    assert {r: acc_sub[r] for r in ("attention_scores", "attention_context")} == {
        r: ref_sub[r] for r in ("attention_scores", "attention_context")}
    assert ("MATMUL_COMPUTE_CONFIG = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, "
            "math_approx_mode=False, fp32_dest_acc_en=True, packer_l1_acc=True)") in acc.source
    assert ("ATTENTION_MATMUL_COMPUTE_CONFIG = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, "
            "math_approx_mode=False, fp32_dest_acc_en=False, packer_l1_acc=True)") in acc.source
    assert "ATTENTION_MATMUL_COMPUTE_CONFIG" not in ref.source   # same settings: one MATMUL_COMPUTE_CONFIG
    assert "SOFTMAX_COMPUTE_CONFIG = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, math_approx_mode=False" in acc.source
    assert "fused_activation=(ttnn.UnaryOpType.GELU, False)" in acc.source
    assert "fused_activation=(ttnn.UnaryOpType.GELU, True)" in ref.source
    # layernorm keeps the schedule's own settings: the profile names only matmul and softmax fields
    assert re.search(r"LAYERNORM_COMPUTE_CONFIG = .*fp32_dest_acc_en=True", acc.source)
    assert acc.manifest["precision"] == "accurate" and len(acc.manifest["precision_sha256"]) == 64
    assert ref.manifest["precision"] == "reference" and ref.manifest["precision_sha256"] is None
    assert "precision accurate (schedules/precision/accurate.yaml" in acc.source
    assert "precision " not in ref.source.split('"""')[1]   # the reference header is as before


def test_accurate_on_grayskull_has_no_fp32_accumulation():
    acc = compile_model(batch=12, device=find_device("grayskull_e150"), precision="accurate")
    assert ("MATMUL_COMPUTE_CONFIG = ttnn.GrayskullComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, "
            "math_approx_mode=False)") in acc.source
    assert max(_subblocks(acc.source).values()) == 8   # bf16 Dst: the reference subblocks stay legal


def test_accurate_costs_matrix_engine_time():
    ref = compile_model(batch=7, device=find_device("wormhole_n300"))
    acc = compile_model(batch=7, device=find_device("wormhole_n300"), precision="accurate")
    assert acc.manifest["predicted_samples_per_s"] < 0.8 * ref.manifest["predicted_samples_per_s"]


def test_unknown_profile_is_a_usage_error(capsys):
    assert main(["build", "--arch", "wh", "--batch", "7", "--precision", "exact"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--precision" in err[0] and "accurate" in err[0]


def test_profile_with_a_misspelt_architecture_is_refused(tmp_path, monkeypatch):
    import compiler.schedule as schedule

    (tmp_path / "odd.yaml").write_text("gelu: erf\nby_arch:\n  wormhole: {compute: {matmul: {fp32_dest_acc_en: true}}}\n")
    monkeypatch.setattr(schedule, "PRECISION_DIR", tmp_path)
    with pytest.raises(ScheduleError, match=r"unknown key 'by_arch.wormhole' \(did you mean 'wormhole_b0'\?\)"):
        with_precision(default_schedule_for(find_device("wormhole_n300")), "odd", "wormhole_b0")
