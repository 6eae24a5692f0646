"""`explain --csv PATH`: the predictions as tt-metal's ops_perf_results CSV, so predicted and measured runs go
through the same tools (tt-perf-report on PyPI reads both).

The columns are the device profiler's (tenstorrent/tt-metal tools/tracy/process_ops_logs.py OPS_CSV_HEADER)
followed by the per-tensor columns it expands INPUTS and OUTPUTS into (INPUT_0_W_PAD[LOGICAL] ...
OUTPUT_0_MEMORY, values "padded[logical]"), the "v2.1" layout tt-perf-report detects by DEVICE ARCH. Each op is one row: DEVICE KERNEL DURATION [ns] is the
predicted kernel time, OP TO OP LATENCY [ns] the device file's op-to-op gap, HOST START TS a running
timestamp (so the tool keeps program order). Columns the model has no value for stay empty. DEVICE ARCH is
the build's arch as the manifest names it; tt-perf-report 1.4 knows wormhole and blackhole, not grayskull
(pass it --arch wormhole to read a Grayskull build's file).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from .cost_model import Prediction

OPS_CSV_HEADER = [
    "OP CODE", "OP TYPE", "GLOBAL CALL COUNT", "DEVICE ID", "DEVICE ARCH", "ATTRIBUTES", "MATH FIDELITY",
    "CORE COUNT", "AVAILABLE WORKER CORE COUNT", "PARALLELIZATION STRATEGY", "HOST START TS", "HOST END TS",
    "HOST DURATION [ns]", "DEVICE FW START CYCLE", "DEVICE FW END CYCLE", "OP TO OP LATENCY [ns]",
    "OP TO OP LATENCY BR/NRISC START [ns]", "DEVICE FW DURATION [ns]", "DEVICE KERNEL DURATION [ns]",
    "DEVICE KERNEL DURATION DM START [ns]", "DEVICE KERNEL DURATION PER CORE MIN [ns]",
    "DEVICE KERNEL DURATION PER CORE MAX [ns]", "DEVICE KERNEL DURATION PER CORE AVG [ns]",
    "DEVICE KERNEL FIRST TO LAST START [ns]", "DEVICE BRISC KERNEL DURATION [ns]",
    "DEVICE NCRISC KERNEL DURATION [ns]", "DEVICE TRISC0 KERNEL DURATION [ns]", "DEVICE TRISC1 KERNEL DURATION [ns]",
    "DEVICE TRISC2 KERNEL DURATION [ns]", "DEVICE ERISC KERNEL DURATION [ns]", "DEVICE COMPUTE CB WAIT FRONT [ns]",
    "DEVICE COMPUTE CB RESERVE BACK [ns]", "DISPATCH TOTAL CQ CMD OP TIME [ns]", "DISPATCH GO SEND WAIT TIME [ns]",
    "INPUTS", "OUTPUTS", "METAL TRACE ID", "METAL TRACE REPLAY SESSION ID", "COMPUTE KERNEL SOURCE",
    "COMPUTE KERNEL HASH", "DATA MOVEMENT KERNEL SOURCE", "DATA MOVEMENT KERNEL HASH",
    "TENSIX DM 0 MAX KERNEL SIZE [B]", "TENSIX DM 1 MAX KERNEL SIZE [B]", "TENSIX COMPUTE 0 MAX KERNEL SIZE [B]",
    "TENSIX COMPUTE 1 MAX KERNEL SIZE [B]", "TENSIX COMPUTE 2 MAX KERNEL SIZE [B]", "ACTIVE ETH DM 0 MAX KERNEL SIZE [B]",
    "ACTIVE ETH DM 1 MAX KERNEL SIZE [B]", "IDLE ETH DM 0 MAX KERNEL SIZE [B]", "IDLE ETH DM 1 MAX KERNEL SIZE [B]",
    "PM IDEAL [ns]", "PM COMPUTE [ns]", "PM BANDWIDTH [ns]", "PM REQ I BW", "PM REQ O BW", "PM FPU UTIL (%)",
    "NOC UTIL (%)", "DRAM BW UTIL (%)", "ETH BW UTIL (%)", "NPE CONG IMPACT (%)", "SFPU Util Min (%)",
    "SFPU Util Median (%)", "SFPU Util Max (%)", "Avg SFPU util on full grid (%)", "FPU Util Min (%)",
    "FPU Util Median (%)", "FPU Util Max (%)", "Avg FPU util on full grid (%)", "MATH Util Min (%)",
    "MATH Util Median (%)", "MATH Util Max (%)", "Avg Math util on full grid (%)",
]
_TENSOR_FIELDS = ["W_PAD[LOGICAL]", "Z_PAD[LOGICAL]", "Y_PAD[LOGICAL]", "X_PAD[LOGICAL]", "LAYOUT", "DATATYPE", "MEMORY"]
_TENSORS = ["INPUT_0", "INPUT_1", "OUTPUT_0"]
HEADER = OPS_CSV_HEADER + [f"{t}_{f}" for t in _TENSORS for f in _TENSOR_FIELDS]

# Our op kinds as the ttnn device operations the profiler names (tt-perf-report classifies by these).
_OP_CODE = {"linear": "Matmul", "matmul": "Matmul", "scale_mask_softmax": "Softmax", "layer_norm": "LayerNorm",
            "split_heads": "CreateQKVHeadsDeviceOperation", "concat_heads": "NLPConcatHeads",
            "to_sharded": "InterleavedToSharded", "to_interleaved": "ShardedToInterleaved",
            "embedding": "Embeddings", "reshard": "Reshard"}


def _memory(placement: dict | None) -> str:
    p = placement or {}
    return f"DEV_0_{p.get('buffer', 'L1')}_{p.get('layout', 'INTERLEAVED')}"


def _dims(shape) -> list[str]:
    dims = [1] * max(0, 4 - len(shape)) + [int(d) for d in shape][-4:]
    return [f"{-(-d // 32) * 32 if i >= 2 else d}[{d}]" for i, d in enumerate(dims)]


def _tensor(row: dict, slot: str, shape, dtype: str, placement: dict | None) -> None:
    for field, value in zip(_TENSOR_FIELDS[:4], _dims(shape)):
        row[f"{slot}_{field}"] = value
    row[f"{slot}_LAYOUT"] = (placement or {}).get("tensor_layout", "TILE")
    row[f"{slot}_DATATYPE"] = dtype.upper()
    row[f"{slot}_MEMORY"] = _memory(placement)


def _inputs(op: dict, manifest: dict) -> list[tuple[list, str, dict]]:
    """(shape, dtype, placement) of the op's activation and its second operand, as far as the manifest says."""
    out = op["output_shapes"][0]
    act = (list(out), op["dtype"], op.get("memory"))
    weights = op.get("weights") or []
    if op["kind"] == "linear" and weights:
        k = weights[0]["shape"][0]
        dram = {"buffer": "DRAM", "layout": "INTERLEAVED", "tensor_layout": "TILE"}
        return [([*out[:-1], k], op["dtype"], op.get("memory")), (list(weights[0]["shape"]), weights[0]["dtype"], dram)]
    if op["kind"] == "matmul" and len(out) == 4:
        head_dim = manifest["model"]["hidden_size"] // manifest["model"]["num_heads"]
        seq = int(manifest["seq_len"])
        if op["role"] == "attention_scores":        # Q [B,H,S,D] x K^T [B,H,D,S]
            return [([*out[:3], head_dim], op["dtype"], op.get("memory")), ([*out[:2], head_dim, seq], op["dtype"], op.get("memory"))]
        return [([*out[:3], seq], op["dtype"], op.get("memory")), ([*out[:2], seq, out[3]], op["dtype"], op.get("memory"))]
    return [act]


def _attributes(op: dict) -> str:
    parts = {}
    cfg = op.get("program_config")
    if cfg:
        fields = ",".join(f"{k}={tuple(v) if isinstance(v, list) else v}" for k, v in cfg.items() if k != "type")
        parts["program_config"] = f"{cfg['type']}({fields})"
    if op.get("compute_kernel_config"):
        parts["compute_kernel_config"] = ",".join(f"{k}={v}" for k, v in op["compute_kernel_config"].items())
    parts["predicted_by"] = "tt-bert-compiler cost model"
    return "{" + "; ".join(f"'{k}': '{v}'" for k, v in parts.items()) + "}"


def rows(manifest: dict, pred: Prediction) -> list[dict]:
    gx, gy = manifest["grid"]
    arch = manifest.get("arch", "")
    worker_cores = math.prod((manifest.get("device_spec") or {}).get("grid", [gx, gy]))
    gap_ns = round(pred.op_dispatch_us * 1e3)
    out, t = [], 0
    for i, (op, cost) in enumerate(zip(manifest["ops"], pred.ops), 1):
        kernel_ns = round(cost.us * 1e3)
        sharded = bool((op.get("memory") or {}).get("shard_shape"))
        row = {h: "" for h in HEADER}
        row.update({"OP CODE": _OP_CODE.get(op["kind"], "BinaryNg"), "OP TYPE": "tt_dnn_device",
                    "GLOBAL CALL COUNT": i, "DEVICE ID": 0, "DEVICE ARCH": arch, "ATTRIBUTES": _attributes(op),
                    "MATH FIDELITY": op.get("math_fidelity") or "", "CORE COUNT": gx * gy if sharded or op.get("program_config") else worker_cores,
                    "AVAILABLE WORKER CORE COUNT": worker_cores, "HOST START TS": t, "HOST END TS": t + kernel_ns,
                    "OP TO OP LATENCY [ns]": gap_ns if i > 1 else 0, "DEVICE KERNEL DURATION [ns]": kernel_ns,
                    "DEVICE FW DURATION [ns]": kernel_ns, "PM COMPUTE [ns]": round(cost.compute_us * 1e3),
                    "PM BANDWIDTH [ns]": round(max(cost.dram_us, cost.noc_us) * 1e3),
                    "PM IDEAL [ns]": round(max(cost.compute_us, cost.dram_us, cost.noc_us) * 1e3),
                    "COMPUTE KERNEL SOURCE": op["name"]})
        ins = _inputs(op, manifest)
        for slot, (shape, dtype, placement) in zip(_TENSORS[:2], ins):
            _tensor(row, slot, shape, dtype, placement)
        _tensor(row, "OUTPUT_0", op["output_shapes"][0], op["dtype"], op.get("memory"))
        out.append(row)
        t += kernel_ns + gap_ns
    return out


def write_csv(path: str | Path, manifest: dict, pred: Prediction) -> int:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        data = rows(manifest, pred)
        w.writerows(data)
    return len(data)
