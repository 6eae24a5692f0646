"""The emulator's op keyword surface against the real ttnn (conformance.compare_api)."""
from __future__ import annotations

import pytest

from conformance import harness


def test_comparison_catches_bad_surfaces(ttnn_python):
    ttnn_python()
    result = harness.run_api_comparison(
        {
            "ttnn.linear": ["bias", "program_config", "memory_config", "dtype", "activation"],
            "ttnn.layer_norm": ["eps", "weight"],
            "ttnn.matmul": ["bias"],
            "ttnn.transformer.concat_heads": ["memory_config"],
            "ttnn.CoreCoord": ["x"],
        }
    )
    assert not result["ok"]
    problems = "\n".join(result["problems"])
    assert "ttnn.layer_norm: the emulator accepts keyword 'eps'" in problems
    assert "ttnn.matmul: the emulator accepts keyword 'bias'" in problems
    assert "ttnn.transformer.concat_heads: does not exist" in problems
    assert "ttnn.CoreCoord: the emulator accepts keyword 'x'" in problems
    assert not any(p.startswith("ttnn.linear") for p in result["problems"])
    (linear,) = [e for e in result["ops"] if e["op"] == "ttnn.linear"]
    assert "compute_kernel_config" in linear["missing_in_emulator"]


def test_emulator_surface_matches_real_ttnn(ttnn_python):
    ttnn_python()
    try:
        surface, missing = harness.emulator_api_surface(), None
    except ImportError as exc:
        surface, missing = None, str(exc)
    if missing:
        pytest.fail(f"runtime.emulator.api_surface is not importable ({missing})", pytrace=False)
    assert surface, "the emulator reports no ops"
    result = harness.run_api_comparison(surface)
    lacking = {e["op"]: e["missing_in_emulator"] for e in result["ops"] if e["missing_in_emulator"]}
    print(f"\n{result['n_ops']} emulated ops, {result['n_keywords_checked']} keywords checked against ttnn "
          f"{result['ttnn_version']}")
    for op, kws in sorted(lacking.items()):
        print(f"info: {op}: real keywords the emulator lacks: {', '.join(kws)}")
    assert result["ok"], "\n".join(result["problems"])
