"""Every program the compiler emits for the seed targets (and two other batches, and the seed targets at
`--precision accurate`) passes the real ttnn check: each ttnn.* call resolves and accepts its keywords, each
config object constructs."""
import sys
from pathlib import Path

from compiler.build import compile_model, write_build
from compiler.schedule import find_device
from conformance.harness import run_program_check

SEEDS = [("grayskull_e150", 12, "reference"), ("wormhole_n300", 7, "reference"), ("wormhole_n300_eth", 8, "reference")]
TARGETS = SEEDS + [("wormhole_n300", 3, "reference"), ("grayskull_e150", 5, "reference")] + [
    (device, batch, "accurate") for device, batch, _ in SEEDS]


def test_emitted_programs_pass_real_ttnn_check(tmp_path):
    paths = []
    for device, batch, precision in TARGETS:
        result = compile_model(batch=batch, device=find_device(device), precision=precision)
        write_build(result, tmp_path / f"{device}-b{batch}-{precision}")
        paths.append(tmp_path / f"{device}-b{batch}-{precision}" / "program.py")
    summary = run_program_check(paths)
    totals = summary["totals"]
    print(f"checked {totals['ttnn_calls_checked']} ttnn calls and constructed {totals['configs_constructed']} "
          f"config objects in {len(paths)} programs", file=sys.stderr)
    assert summary["ok"] and len(summary["files"]) == len(TARGETS)
    for f in summary["files"]:
        assert f["ttnn_calls_checked"] >= 40 and f["n_configs_constructed"] >= 9, f
