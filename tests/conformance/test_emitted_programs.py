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


def test_traced_mesh_program_passes_real_ttnn_check(tmp_path):
    """The issue-17 target: bert-large on both N300 chips (--mesh 1x2), traced with two command queues, accurate."""
    result = compile_model(batch=8, device=find_device("wormhole_n300_eth"), precision="accurate", trace=True,
                           mesh_shape=(1, 2))
    write_build(result, tmp_path / "mesh")
    summary = run_program_check([tmp_path / "mesh" / "program.py"])
    used = set(summary["files"][0]["distinct_functions"])
    assert {"ttnn.open_mesh_device", "ttnn.begin_trace_capture", "ttnn.execute_trace", "ttnn.record_event",
            "ttnn.wait_for_event", "ttnn.copy_host_to_device_tensor", "ttnn.shard_tensor_to_mesh_mapper",
            "ttnn.concat_mesh_to_tensor_composer"} <= used
    assert summary["files"][0]["configs_constructed"].get("ttnn.MeshShape") == 1
    assert result.manifest["runner"]["trace_region_size"] == 25296896   # 273 commands x 61,696 B x 1.5, 64 KiB
