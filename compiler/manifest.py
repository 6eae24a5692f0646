"""manifest.json: what was built, for whom, and every op with its config, placement and L1 use."""
from __future__ import annotations

from kernels.trace_region import HEADROOM, PER_CORE_BYTES, PROGRAM_BYTES

from .emit import COMPILER_VERSION, _display_path
from .program import Program
from .runner import Runner


def manifest(program: Program, program_sha256: str, runner=None) -> dict:
    dev, sched = program.device, program.schedule
    ops = []
    plan = program.l1_plan.ops if program.l1_plan else [None] * len(program.ops)
    for op, l1 in zip(program.ops, plan):
        ops.append({
            "name": op.name, "ttnn_op": op.call.func, "kind": op.kind, "role": op.role, "layer": op.layer,
            "module": op.module, "program_config": op.program_config.as_dict() if op.program_config else None,
            "memory": op.placement.as_dict(), "dtype": op.dtype, "output_shapes": [list(s) for s in op.shapes],
            "l1_bytes_per_core": op.l1_bytes_per_core, "live_l1_bytes_per_core": op.live_l1_bytes_per_core,
            "inplace": op.inplace, "math_fidelity": op.math_fidelity,
            "compute_kernel_config": op.compute_config.as_dict() if op.compute_config else None,
            "weights": [{"key": program.weight_params[w].key, "shape": list(program.weight_params[w].shape),
                         "dtype": program.weight_params[w].dtype} for w in op.weights],
            # the allocator's plan while the op runs: CBs, its buffers' addresses, free L1 above the CB region
            "l1": l1.as_dict() if l1 else None,
        })
    result = {
        "format": 1,
        "compiler_version": COMPILER_VERSION,
        "model": {"name": program.model_name, "config_hash": program.config_hash, "architecture": program.architecture,
                  "hidden_size": program.hidden_size, "num_heads": program.num_heads, "num_layers": program.num_layers,
                  "intermediate_size": program.intermediate_size, "vocab_size": program.vocab_size,
                  "model_type": program.model_type, "type_vocab_size": program.type_vocab_size},
        "task": program.task, "head": program.head or None, "position_ids": program.position_ids or None,
        "arch": dev.arch, "device": dev.name, "device_file": _display_path(dev.path), "device_sha256": dev.sha256,
        "ttnn_api": dev.ttnn_api, "required_env": dev.select_env, "open_device": dev.open_device,
        "device_spec": {"grid": [dev.grid_x, dev.grid_y], "l1_bytes_per_core": dev.l1_bytes_per_core,
                        "l1_unreserved_base": dev.l1_unreserved_base, "l1_usable_bytes_per_core": dev.l1_usable_bytes,
                        "dram_channels": dev.dram_channels, "clock_ghz": dev.clock_ghz,
                        "dram_bandwidth_gb_s": dev.dram_bandwidth_gb_s, "dispatch": dev.dispatch},
        "schedule_file": _display_path(sched.path), "schedule_sha256": sched.sha256,
        "precision": sched.precision, "precision_sha256": sched.precision_sha256 or None,
        "batch": program.batch, "seq_len": program.seq_len,
        "grid": list(program.grid), "hidden_cores": program.hidden_cores, "shard_orientation": program.orientation,
        "grid_reason": program.grid_reason,
        "program": "program.py", "program_sha256": program_sha256,
        "inputs": [{"name": i["name"], "shape": i["shape"], "dtype": i["dtype"], "memory": i["placement"].as_dict()}
                   for i in program.inputs],
        "ops": ops,
        "peak_l1_bytes_per_core": program.peak_l1_bytes_per_core,
        "min_l1_headroom": _min_headroom(program),
        # how the program runs (compiler/runner.py): trace and command queues, mesh, batch per chip, trace region
        "runner": (runner or Runner(batch_per_chip=program.batch)).as_manifest(),
    }
    if runner is not None and runner.trace:
        result["trace_region"] = {"op_commands": runner.trace_ops, "cores": dev.grid_x * dev.grid_y,
                                  "program_bytes": PROGRAM_BYTES, "per_core_bytes": PER_CORE_BYTES,
                                  "headroom": HEADROOM, "source": "kernels/trace_region.py"}
    add_prediction(result, dev)
    return result


def add_prediction(result: dict, device) -> None:
    """Per-op `predicted_us` and the top-level `predicted_samples_per_s` from compiler/cost_model.py
    (device-kernel time, as the published figures count it); null where the device file has no `rates`."""
    from .cost_model import predict

    pred = predict(result, device) if device.rates else None
    for entry, cost in zip(result["ops"], pred.ops if pred else [None] * len(result["ops"])):
        entry["predicted_us"] = round(cost.us, 2) if cost else None
    result["predicted_samples_per_s"] = round(pred.samples_per_s, 1) if pred else None
    result["prediction"] = pred.summary() if pred else None


def _min_headroom(program: Program) -> dict | None:
    worst = program.l1_plan.min_headroom if program.l1_plan else None
    return {"op": worst.name, "bytes": worst.headroom} if worst else None
