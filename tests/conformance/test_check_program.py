"""Emitted-program checks against the real ttnn (conformance.check_program)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.harness import REPO_ROOT, TTNNEnvMissing, run_in_venv

FIXTURES = Path(__file__).resolve().parent / "fixtures"

GOOD = FIXTURES / "bert_1layer_wh_b7.py"
BAD = FIXTURES / "bert_1layer_wh_b7_bad_keyword.py"
CONTRACT = REPO_ROOT / "docs" / "emitted-program-contract.md"


def _file(summary: dict, path: Path) -> dict:
    (entry,) = [f for f in summary["files"] if Path(f["path"]) == path.resolve()]
    return entry


def test_fixture_conforms(program_check):
    summary = program_check([GOOD])
    f = _file(summary, GOOD)
    assert summary["ttnn_version"].startswith("0.81.")
    assert f["ok"] and not f["problems"]
    # every call in the fixture was resolved and bound; every module-level config was built by ttnn
    assert f["ttnn_calls_checked"] >= 50
    assert f["n_configs_constructed"] >= 15
    assert f["configs_constructed"]["ttnn.MatmulMultiCoreReuseMultiCastProgramConfig"] == 4
    assert f["configs_constructed"]["ttnn.MatmulMultiCoreReuseProgramConfig"] == 2
    assert f["configs_constructed"]["ttnn.LayerNormShardedMultiCoreProgramConfig"] == 1
    assert f["configs_constructed"]["ttnn.SoftmaxShardedMultiCoreProgramConfig"] == 1
    print(
        f"\nfixture: {f['ttnn_calls_checked']} ttnn calls checked, {f['n_distinct_functions']} distinct "
        f"functions, {f['attribute_references_checked']} other references, "
        f"{f['n_configs_constructed']} config objects constructed by real ttnn classes"
    )


def test_fixture_uses_the_whole_contract_surface(program_check):
    """The fixture mimics the contract: every ttnn call the contract lists appears in it."""
    contract_calls = set(re.findall(r"`(ttnn\.[A-Za-z_][A-Za-z0-9_.]*)\(", CONTRACT.read_text()))
    assert len(contract_calls) >= 10, contract_calls
    functions = set(_file(program_check([GOOD]), GOOD)["distinct_functions"])
    assert contract_calls <= functions, sorted(contract_calls - functions)


def test_wrong_keyword_fails_the_check(program_check):
    good, bad = GOOD.read_text().splitlines(), BAD.read_text().splitlines()
    code_good = [t for t in good if not t.startswith("#")]
    code_bad = [t for t in bad if not t.startswith("#")]
    code_diff = [(a, b) for a, b in zip(code_good, code_bad) if a != b]
    assert len(code_good) == len(code_bad) and code_diff == [
        ("        epsilon=LAYER_NORM_EPS,", "        eps=LAYER_NORM_EPS,")
    ], "the bad fixture must be the good one with exactly one wrong keyword"

    summary = program_check([GOOD, BAD], expect_ok=False)
    assert not summary["ok"]
    assert _file(summary, GOOD)["ok"]
    problems = _file(summary, BAD)["problems"]
    line = next(i for i, text in enumerate(bad, 1) if "eps=LAYER_NORM_EPS" in text)
    call_line = max(i for i, text in enumerate(bad[:line], 1) if "ttnn.layer_norm(" in text)
    assert problems == [
        f"{BAD.resolve()}:{call_line}: ttnn.layer_norm does not accept keyword 'eps' (accepted: input_tensor, "
        "epsilon, weight, bias, residual_input_tensor, memory_config, program_config, compute_kernel_config, "
        "recip_tensor, cq_id, queue_id)"
    ]


def test_cli_text_output_and_exit_status(ttnn_python):
    ttnn_python()
    proc = run_in_venv(["-m", "conformance.check_program", str(GOOD), str(BAD)])
    assert proc.returncode == 1
    assert f"{BAD.resolve()}:" in proc.stdout and "does not accept keyword 'eps'" in proc.stdout
    assert "config objects constructed" in proc.stdout
    ok = run_in_venv(["-m", "conformance.check_program", str(GOOD)])
    assert ok.returncode == 0, ok.stdout + ok.stderr


# one-edit variants of the good fixture, each with the problem line the checker must print
VARIANTS = {
    "config_bad_keyword": (
        ("    block_h=24,\n    block_w=12,\n)", "    block_h=24,\n    block_wx=12,\n)"),
        [r"ttnn\.SoftmaxShardedMultiCoreProgramConfig does not accept keyword 'block_wx'",
         r"executing the module top level with the real ttnn failed: TypeError"],
    ),
    "config_bad_value": (
        ("    in0_block_w=2,", "    in0_block_w=\"2\","),
        [r"executing the module top level with the real ttnn failed: TypeError: __init__\(\) rejected the "
         r"arguments; Invoked with types: .*MatmulMultiCoreReuseProgramConfig.*in0_block_w: str"],
    ),
    "missing_function": (
        ("ttnn.transformer.concatenate_heads(", "ttnn.transformer.concat_heads("),
        [r"ttnn\.transformer\.concat_heads does not exist in ttnn 0\.81"],
    ),
    "missing_attribute": (
        ("memory_layout=ttnn.TensorMemoryLayout.HEIGHT_SHARDED,", "memory_layout=ttnn.TensorMemoryLayout.HEIGHT_SHARD,"),
        [r"ttnn\.TensorMemoryLayout\.HEIGHT_SHARD does not exist", r"AttributeError"],
    ),
    "too_many_positional": (
        ("ATTENTION_SCALE, mask, program_config=SOFTMAX_PROGRAM_CONFIG)", "ATTENTION_SCALE, mask, SOFTMAX_PROGRAM_CONFIG)"),
        [r"ttnn\.scale_mask_softmax_in_place takes at most 3 positional arguments \(4 given\)"],
    ),
    "keyword_for_positional_only": (
        ("GRID = ttnn.CoreCoord(GRID_X, GRID_Y)", "GRID = ttnn.CoreCoord(x=GRID_X, y=GRID_Y)"),
        [r"ttnn\.CoreCoord does not accept keyword 'x'", r"failed: TypeError"],
    ),
    "missing_required": (
        ("qkv, GRID, num_heads=NUM_HEADS", "qkv, num_heads=NUM_HEADS"),
        [r"ttnn\.experimental\.split_query_key_value_and_split_heads missing required argument "
         r"'compute_with_storage_grid_size'"],
    ),
    "matmul_has_no_bias": (
        ("scores = ttnn.matmul(\n        query, key_t, ", "scores = ttnn.matmul(\n        query, key_t, bias=None, "),
        [r"ttnn\.matmul does not accept keyword 'bias'"],
    ),
    "op_at_module_level": (
        ("def _regroup_qkv(", "_PROBE = ttnn.layer_norm(None, epsilon=1e-5)\n\n\ndef _regroup_qkv("),
        [r"ModuleLevelOpCall: ttnn\.layer_norm is an operation and was called at module level"],
    ),
}


@pytest.fixture(scope="module")
def variant_results(tmp_path_factory, program_check):
    src = GOOD.read_text()
    d = tmp_path_factory.mktemp("variants")
    paths = {}
    for name, ((old, new), _) in VARIANTS.items():
        assert src.count(old) == 1, name
        p = d / f"{name}.py"
        p.write_text(src.replace(old, new))
        paths[name] = p
    try:
        summary = program_check(list(paths.values()), expect_ok=False)
    except TTNNEnvMissing as exc:  # re-raised in each test, so they FAIL rather than error
        return exc
    return {name: _file(summary, p) for name, p in paths.items()}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_is_caught(variant_results, name):
    if isinstance(variant_results, Exception):
        raise variant_results
    problems = variant_results[name]["problems"]
    assert not variant_results[name]["ok"]
    for pattern in VARIANTS[name][1]:
        assert any(re.search(pattern, p) for p in problems), (pattern, problems)
    for p in problems:  # every problem names the file and a real line
        assert re.match(r"^/.+\.py:[1-9][0-9]*: ", p), p


def test_api_level_v055_names_are_checked_against_their_own_table(program_check, tmp_path):
    """Grayskull programs speak tt-metal v0.55 (conformance/api_levels.py): GrayskullComputeKernelConfig is accepted
    there with its own keywords, refused at 0.81; 0.81-only layernorm fields are refused at v0.55."""
    from compiler.build import compile_model
    from compiler.schedule import find_device

    gs = compile_model(batch=12, device=find_device("grayskull_e150")).source
    good = tmp_path / "gs.py"
    good.write_text(gs)
    bad_keyword = tmp_path / "gs_bad_keyword.py"
    bad_keyword.write_text(gs.replace("math_approx_mode=True)", "math_approx_mode=True, fp32_dest_acc_en=False)", 1))
    new_field = tmp_path / "gs_new_field.py"
    new_field.write_text(gs.replace("inplace=True)", "inplace=True, legacy_reduction=True)", 1))
    wrong_level = tmp_path / "gs_as_081.py"
    wrong_level.write_text(gs.replace('TTNN_API = "v0.55"', 'TTNN_API = "0.81"'))
    summary = program_check([good, bad_keyword, new_field, wrong_level], expect_ok=False)
    assert _file(summary, good)["ok"], _file(summary, good)["problems"]
    assert any("GrayskullComputeKernelConfig does not accept keyword 'fp32_dest_acc_en' at API v0.55" in p
               for p in _file(summary, bad_keyword)["problems"])
    assert any("keyword 'legacy_reduction' does not exist at API v0.55" in p for p in _file(summary, new_field)["problems"])
    assert any("ttnn.GrayskullComputeKernelConfig does not exist in ttnn 0.81" in p
               for p in _file(summary, wrong_level)["problems"])
