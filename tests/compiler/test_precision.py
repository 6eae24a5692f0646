"""`build --precision`: the reference profile is the schedule as written; `accurate` lays
schedules/precision/accurate.yaml over it, with the legality that follows (fp32 Dst halves the subblock)."""
import re

import pytest

from compiler.build import compile_model
from compiler.cli import main
from compiler.errors import ScheduleError
from compiler.schedule import default_schedule_for, find_device, precision_profiles, with_precision


def _subblocks(source: str):
    return [int(h) * int(w) for h, w in re.findall(r"out_subblock_h=(\d+), out_subblock_w=(\d+)", source)]


def test_profiles_listed_from_the_folder():
    assert precision_profiles() == ("reference", "accurate")


def test_reference_profile_is_the_schedule_unchanged():
    sched = default_schedule_for(find_device("wormhole_n300"))
    assert with_precision(sched, "reference", "wormhole_b0") is sched


def test_accurate_on_wormhole_emits_exact_functions_hifi2_and_fp32_accumulation():
    ref = compile_model(batch=7, device=find_device("wormhole_n300"))
    acc = compile_model(batch=7, device=find_device("wormhole_n300"), precision="accurate")
    assert max(_subblocks(ref.source)) == 8   # the reference's 1x8 FF1 / 2x4 subblocks
    assert max(_subblocks(acc.source)) <= 4   # fp32 Dst holds half as many tiles
    assert ("MATMUL_COMPUTE_CONFIG = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, "
            "math_approx_mode=False, fp32_dest_acc_en=True, packer_l1_acc=True)") in acc.source
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
    assert max(_subblocks(acc.source)) == 8   # bf16 Dst: the reference subblocks stay legal


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
