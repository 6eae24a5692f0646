"""Held-out validation of the cost model: predicted vs published end-to-end BERT figures it was not fitted on.

    python benchmarks/cost_model_validation.py [--json]

The constants are fitted on per-op micro-benchmarks only (compiler/cost_fit.py, compiler/cost_data/). Here we
build our own program for each published figure (same model shape, batch, sequence length and device), predict
it, and print the error. Device-only figures are compared with the predicted sum of device-kernel durations;
end-to-end figures with trace are compared with kernels plus the device file's op-to-op gap per op (trace
removes host dispatch, not the gap between ops). The `differs` lines say where our schedule is not theirs.
Published figures: tt-bert-reference.md §4 and §7b.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.build import compile_model  # noqa: E402
from compiler.cost_model import CONSTANTS, FITTED, predict  # noqa: E402
from compiler.schedule import default_schedule_for, find_device  # noqa: E402
from compiler.sensitivity import sensitivity  # noqa: E402

# BertConfig shapes of the published models (vocab and position table as their checkpoints have them).
BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 vocab_size=30522, max_position_embeddings=512)
BERT_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                  vocab_size=30522, max_position_embeddings=512)

_REF = "metal_BERT_large_11 (BFLOAT8_B-SHARDED)"
_SBERT = "models/demos/sentence_bert/ttnn/ (common.py, ttnn_sentencebert_intermediate.py, _output.py, _self_output.py)"
_BGE = "models/demos/wormhole/bge_large_en/ttnn/common.py and models/demos/bge_large_en/ttnn/ (_self_attention.py, _intermediate.py, _output.py)"

# Their schedules where they differ from ours, as per-op-role changes to our program (tenstorrent/tt-metal files
# above): priced as well, so the comparison also shows what their choices cost. `reshard_after` adds their
# ttnn.reshard after those ops.
SBERT_THEIRS = {"roles": {"ff1": {"math_fidelity": "HiFi2", "compute": {"packer_l1_acc": False}},
                          "ff2": {"program_config": {"in0_block_w": 4, "out_subblock_h": 1, "out_subblock_w": 6,
                                                     "per_core_N": 12}}},
                "reshard_after": ("self_out", "ff2"),
                "summary": "FF1 HiFi2 without packer_l1_acc; FF2 per_core_N 12 (2 of 6 core columns), subblock 1x6, "
                           "in0_block_w 4; a reshard after self-out and after FF2"}
BGE_THEIRS = {"roles": {"qkv": {"math_fidelity": "HiFi2", "compute": {"fp32_dest_acc_en": True},
                                "program_config": {"out_subblock_h": 1, "out_subblock_w": 4}},
                        "attention_scores": {"dtype": "bfloat16"}, "attention_probs": {"dtype": "bfloat16"},
                        "attention_context": {"dtype": "bfloat16"},
                        "ff1": {"math_fidelity": "HiFi2", "compute": {"packer_l1_acc": False}},
                        "ff2": {"math_fidelity": "HiFi2", "compute": {"fp32_dest_acc_en": True},
                                "program_config": {"in0_block_w": 16, "out_subblock_h": 1, "out_subblock_w": 4}},
                        "output_layernorm": {"math_fidelity": "HiFi2"}},
              "reshard_after": ("ff2",),
              "summary": "QKV and FF2 HiFi2 with fp32 accumulation (subblocks 1x4), FF1 HiFi2 without packer_l1_acc, "
                         "attention scores/probs/context in bfloat16, output layernorm HiFi2, a reshard after FF2"}

FIGURES = [
    dict(name="BERT-large GS E150 b12", model=BERT_LARGE, device="grayskull_e150", batch=12, seq=384,
         published=400.0, kind="device", source="tt-bert-reference.md §4",
         lacks="no Grayskull row in the micro-benchmark table: every fitted cycle constant is Wormhole's, so GS's unpacker, matmul-call and launch costs are WH cycles at 1.2 GHz; softmax, GELU and layernorm SFPU/FPU costs are priors",
         differs=f"none in configs: same grid (12x8, COL_MAJOR) and per-op configs as {_REF}; we emit for the v0.55 API"),
    dict(name="BERT-large WH N300 b8 eth", model=BERT_LARGE, device="wormhole_n300_eth", batch=8, seq=384,
         published=340.0, kind="device", source="tt-bert-reference.md §4",
         lacks="matmuls rest on fitted constants; softmax (about a quarter of the time), GELU, layernorm and data movement rest on priors, softmax's SFPU exp the largest; the table has no softmax, layernorm or SFPU measurement to fit them",
         differs=f"none in configs: same grid (8x8, ethernet dispatch) and per-op configs as {_REF}"),
    dict(name="BERT-large WH N300 b7", model=BERT_LARGE, device="wormhole_n300", batch=7, seq=384,
         published=280.0, kind="device", source="tt-bert-reference.md §4",
         lacks="as b8 (the same per-core program); the two published figures of that one config differ by 6% (7/25.0 ms vs 8/23.5 ms)",
         differs="theirs: 7 / kernel time of the batch-8 config (test_perf_device_bert.py); ours: a batch-7 "
                 "program on 8x7 with the same per-core work"),
    dict(name="Sentence-BERT N150 b8", model=BERT_BASE, device="wormhole_n150", batch=8, seq=384,
         published=456.0, kind="device", source="tt-bert-reference.md §7b", theirs=SBERT_THEIRS,
         lacks="their embeddings path (3 lookups, 2 adds, to_memory_config), attention_softmax_, mean pooling and any op they run that we do not, priced only where listed under theirs",
         differs=f"same grid (6x8) and QKV/self-out/attention configs as {_SBERT}; theirs ends in mean pooling, "
                 "ours in the QA head"),
    dict(name="Sentence-BERT N150 b8 e2e", model=BERT_BASE, device="wormhole_n150", batch=8, seq=384,
         published=433.0, kind="e2e", source="tt-bert-reference.md §7b", theirs=SBERT_THEIRS,
         lacks="host time: input writes, output reads and the host side of trace + 2CQ are not modelled, only kernels and op-to-op gaps",
         differs="as above; theirs runs trace + 2 command queues and includes host<->device I/O"),
    dict(name="BGE-large N150 b8 s384", model=BERT_LARGE, device="wormhole_n150", batch=8, seq=384,
         published=400.0, kind="device", theirs=BGE_THEIRS,
         source="tenstorrent/tt-metal models/demos/wormhole/bge_large_en/tests/perf/test_bge_perf.py "
                "(expected AVG DEVICE KERNEL SAMPLES/S, margin 3%)",
         lacks="fp32 accumulation is priced only through its 4-tile subblock limit (the table has no fp32-accumulation GEMM); the 400/s is a CI expectation whose schedule may predate the configs read",
         differs=f"same grid (8x8) and FF1/self-out/attention program configs as {_BGE}"),
    dict(name="BGE-large N150 b8 s384 e2e", model=BERT_LARGE, device="wormhole_n150", batch=8, seq=384,
         published=230.0, kind="e2e", source="tt-bert-reference.md §7b", theirs=BGE_THEIRS,
         lacks="host time (about 15 ms per batch if the 400/s device figure holds): input/output transfers and mean pooling are not modelled",
         differs="as above; trace + 2CQ, e2e includes host I/O and mean pooling"),
    dict(name="BGE-large N150 b8 s512 e2e", model=BERT_LARGE, device="wormhole_n150", batch=8, seq=512,
         published=146.0, kind="e2e", source="tt-bert-reference.md §7b", theirs=BGE_THEIRS,
         lacks="host time as at 384, and their seq-512 program configs",
         differs="our schedule at seq_len 512 (attention shards 512 wide, softmax block_w 16); their 512 configs "
                 "are not in the files read; as above otherwise"),
]


def apply_theirs(manifest: dict, theirs: dict) -> dict:
    """Our manifest with their per-role choices (fidelity, compute config, program-config fields, dtypes) and
    their extra reshards: a plan the cost model prices like any other."""
    m = copy.deepcopy(manifest)
    ops = []
    for op in m["ops"]:
        for key, value in theirs["roles"].get(op["role"], {}).items():
            if key == "program_config":
                op["program_config"] = {**op["program_config"], **value}
            elif key == "compute":
                op["compute_kernel_config"] = {**(op.get("compute_kernel_config") or {}), **value}
            else:
                op[key] = value
        ops.append(op)
        if op["role"] in theirs.get("reshard_after", ()):
            ops.append({"name": f"{op['name']}.reshard", "kind": "reshard", "role": "reshard", "ttnn_op": "ttnn.reshard",
                        "layer": op["layer"], "dtype": op["dtype"], "output_shapes": op["output_shapes"],
                        "memory": op["memory"], "program_config": None, "weights": [], "math_fidelity": None})
    m["ops"] = ops
    return m


def _model_dir(tmp: Path, cfg: dict) -> str:
    d = tmp / f"bert-{cfg['hidden_size']}-{cfg['num_hidden_layers']}"
    if not d.is_dir():
        d.mkdir()
        (d / "config.json").write_text(json.dumps(dict(model_type="bert", type_vocab_size=2, layer_norm_eps=1e-12,
                                                       hidden_act="gelu", **cfg)))
    return str(d)


def _throughput(fig: dict, manifest: dict, device) -> tuple[float, float, float]:
    """(sentences/s compared with the figure, kernel ms, op-gap ms)."""
    pred = predict(manifest, device)
    kernels_ms = pred.device_kernel_us / 1e3
    gaps_ms = pred.dispatch_total_us / 1e3
    compared_ms = kernels_ms + (gaps_ms if fig["kind"] == "e2e" else 0.0)
    return fig["batch"] / (compared_ms * 1e-3), kernels_ms, gaps_ms


def _fitted_share(manifest: dict, device, sens) -> float:
    """Share of the predicted time in ops whose price moves most with a fitted constant (vs a prior)."""
    pred = predict(manifest, device)
    fitted = sum(op.us for op, e in zip(pred.ops, sens.per_op) if sens.top(e, 1)[0][0] in FITTED)
    return fitted / pred.device_kernel_us


def predict_figure(fig: dict, tmp: Path, built: dict) -> dict:
    device = find_device(fig["device"])
    key = (fig["device"], fig["batch"], fig["seq"], json.dumps(fig["model"], sort_keys=True))
    if key not in built:          # figures of the same program share one build
        schedule = dataclasses.replace(default_schedule_for(device), seq_len=fig["seq"])
        built[key] = compile_model(batch=fig["batch"], device=device, schedule=schedule,
                                   model=_model_dir(tmp, fig["model"])).manifest
    m = built[key]
    ours, kernels_ms, gaps_ms = _throughput(fig, m, device)
    sens = sensitivity(m, device)
    fitted_share = _fitted_share(m, device, sens)
    row = dict(figure=fig["name"], kind=fig["kind"], published=fig["published"], source=fig["source"],
               predicted=round(ours, 1), error_pct=round(100 * (ours / fig["published"] - 1), 1),
               kernels_ms=round(kernels_ms, 2), op_gaps_ms=round(gaps_ms, 2), ops=len(m["ops"]), grid=m["grid"],
               differs=fig["differs"], rests_on=sens.top(sens.total, 4), fitted_share_pct=round(100 * fitted_share),
               lacks=fig["lacks"])
    if fig.get("theirs"):
        theirs, t_kernels, _ = _throughput(fig, apply_theirs(m, fig["theirs"]), device)
        row.update(theirs_predicted=round(theirs, 1), theirs_error_pct=round(100 * (theirs / fig["published"] - 1), 1),
                   theirs_kernels_ms=round(t_kernels, 2), theirs=fig["theirs"]["summary"])
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as t:
        built: dict = {}
        rows = [predict_figure(f, Path(t), built) for f in FIGURES]
    largest = max(abs(r["error_pct"]) for r in rows)
    if args.json:
        print(json.dumps({"figures": rows, "largest_error_pct": largest,
                          "fitted_constants": {k: getattr(CONSTANTS, k) for k in FITTED}}, indent=1))
        return 0
    print("held-out BERT figures (constants fitted on compiler/cost_data/microbench.yaml only; device = sum of "
          "device-kernel durations, e2e = kernels + op-to-op gaps, no host time)")
    print(f"{'figure':28} {'kind':6} {'published/s':>11} {'ours/s':>8} {'error':>7} {'theirs/s':>8} {'error':>7} "
          f"{'kernels ms':>10} {'gaps ms':>7} {'grid':>5}")
    for r in rows:
        theirs = (f"{r['theirs_predicted']:>8.1f} {r['theirs_error_pct']:>+6.1f}%" if "theirs_predicted" in r
                  else f"{'-':>8} {'-':>7}")
        print(f"{r['figure']:28} {r['kind']:6} {r['published']:>11.0f} {r['predicted']:>8.1f} {r['error_pct']:>+6.1f}% "
              f"{theirs} {r['kernels_ms']:>10.2f} {r['op_gaps_ms']:>7.2f} {r['grid'][0]}x{r['grid'][1]:<3}")
        print(f"  published: {r['source']}")
        print(f"  differs: {r['differs']}")
        if "theirs" in r:
            print(f"  theirs/s prices our program with their choices: {r['theirs']}")
        print(f"  our program rests on (elasticity of its total; * fitted): "
              + ", ".join(f"{k}{'*' if k in FITTED else ''} {v:+.2f}" for k, v in r["rests_on"])
              + f"; {r['fitted_share_pct']}% of the time in ops priced mainly by fitted constants")
        print(f"  lacks: {r['lacks']}")
    print(f"largest held-out error, our program: {largest:.1f}%; with their documented choices where they differ: "
          f"{max(abs(r.get('theirs_error_pct', r['error_pct'])) for r in rows):.1f}% (target 20%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
