"""Held-out validation of the cost model: predicted vs published end-to-end BERT figures it was not fitted on.

    python benchmarks/cost_model_validation.py [--json]

The constants are fitted on per-op micro-benchmarks only (compiler/cost_fit.py on compiler/cost_data/microbench.yaml,
compiler/e2e_model.py on compiler/cost_data/host_io.yaml). Here we build our own program for each published figure
(same model shape, task, batch, sequence length and device), predict it, and print the error. Device-only figures
are compared with the predicted sum of device-kernel durations; end-to-end figures with compiler/e2e_model.py's
iteration under the runner the figure was measured with (eager, or trace + 2 command queues; one chip or a
data-parallel mesh). `theirs/s` prices our program with their documented op choices and their runner's timed loop.
The `differs` lines say where our schedule or runner is not theirs, `lacks` what the model does not price.
Published figures: tt-bert-reference.md §4 and §7b, and the tt-metal files named.
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
from compiler.e2e_model import HOST, FITTED_HOST, Runner, predict_e2e  # noqa: E402
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

# The runners the published end-to-end figures were measured with, and ours for the same conditions.
EAGER = Runner()
TRACE_2CQ = Runner(trace=True, command_queues=2)
# Sentence-BERT's timed loop (models/demos/sentence_bert/runner/performant_runner.py,
# _execute_sentencebert_trace_2cqs_inference): writes on CQ1, execute_trace, then synchronize_device every run, so
# writes do not overlap the previous run; the output stays on the device.
SBERT_LOOP = Runner(trace=True, command_queues=1, read_outputs=False)
# BGE's (models/demos/bge_large_en/runner/performant_runner.py): writes on CQ1 wait for the previous run's event and
# overlap its trace; no synchronize or read-back inside the 50 timed runs.
BGE_LOOP = Runner(trace=True, command_queues=2, read_outputs=False)
_SBERT_RUNNER = ("theirs: trace + 2 CQ with synchronize_device after every run and the output left on the device "
                 "(performant_runner.py); ours: writes on CQ1 overlapping the previous run, last hidden state read "
                 "back for host pooling")
_BGE_RUNNER = ("theirs: trace + 2 CQ, output left on the device in the timed loop (performant_runner.py, "
               "test_bge_e2e_performant.py); ours reads the last hidden state back for host pooling")
_ERA = ("a 2024 figure: tt-metal issue #7208 (April 2024) says SFPU exp was 75% of softmax's time then, while the "
        "fitted exp is today's tt-llk kernel (PR #1190 baseline, 106.7 cycles/tile), so softmax is priced for a faster stack")
_HOST_LACKS = ("host time to build the ttnn input tensors each run (their run() calls ttnn.from_torch on 4-5 tensors) "
               "and any host post-processing; the tables give no figure for them")

def _sbert_mesh(name: str, shape: tuple[int, int], published: float, lacks: str) -> dict:
    """A Sentence-BERT data-parallel figure: 8 sentences per chip on every chip of the mesh."""
    return dict(name=f"Sentence-BERT {name} e2e", model=BERT_BASE, device="wormhole_n150", batch=8, seq=384,
                task="embed", published=published, kind="e2e", runner=dataclasses.replace(TRACE_2CQ, mesh_shape=shape),
                their_runner=dataclasses.replace(SBERT_LOOP, mesh_shape=shape), source="tt-bert-reference.md §7b",
                theirs=SBERT_THEIRS, lacks=f"{_HOST_LACKS}; {lacks}",
                differs=f"{_SBERT_RUNNER}; data parallel over {shape[0] * shape[1]} chips, 8 per chip, each chip "
                        "priced as an N150 (8x8)")


FIGURES = [
    dict(name="BERT-large GS E150 b12", model=BERT_LARGE, device="grayskull_e150", batch=12, seq=384, task="qa",
         published=400.0, kind="device", source="tt-bert-reference.md §4",
         lacks="no Grayskull row in the micro-benchmark table: every fitted cycle constant is Wormhole's, so GS's unpacker, matmul-call, launch and SFPU exp costs are WH cycles at 1.2 GHz; GELU, reciprocal and layernorm costs are priors; " + _ERA,
         differs=f"none in configs: same grid (12x8, COL_MAJOR) and per-op configs as {_REF}; we emit for the v0.55 API"),
    dict(name="BERT-large GS E150 b12 e2e", model=BERT_LARGE, device="grayskull_e150", batch=12, seq=384, task="qa",
         published=370.0, kind="e2e", runner=EAGER, source="tt-bert-reference.md §4 (end to end, no trace)",
         lacks="as the device figure (the device part is most of it); host input preparation and output untilize",
         differs="none in configs; both eager, one command queue (the demo era had no trace)"),
    dict(name="BERT-large WH N300 b8 eth", model=BERT_LARGE, device="wormhole_n300_eth", batch=8, seq=384, task="qa",
         published=340.0, kind="device", source="tt-bert-reference.md §4",
         lacks="matmuls and softmax's SFPU exp rest on fitted constants; softmax's other passes, GELU, layernorm and data movement on priors (the table has no whole-softmax or layernorm measurement); " + _ERA,
         differs=f"none in configs: same grid (8x8, ethernet dispatch) and per-op configs as {_REF}"),
    dict(name="BERT-large WH N300 b8 eth e2e", model=BERT_LARGE, device="wormhole_n300_eth", batch=8, seq=384,
         task="qa", published=270.0, kind="e2e", runner=EAGER, source="tt-bert-reference.md §4 (end to end, no trace)",
         lacks="as the device figure; host input preparation and output untilize",
         differs="none in configs; both eager, one command queue"),
    dict(name="BERT-large WH N300 b7", model=BERT_LARGE, device="wormhole_n300", batch=7, seq=384, task="qa",
         published=280.0, kind="device", source="tt-bert-reference.md §4",
         lacks="as b8 (the same per-core program); the two published figures of that one config differ by 6% (7/25.0 ms vs 8/23.5 ms)",
         differs="theirs: 7 / kernel time of the batch-8 config (test_perf_device_bert.py); ours: a batch-7 "
                 "program on 8x7 with the same per-core work"),
    dict(name="Sentence-BERT N150 b8", model=BERT_BASE, device="wormhole_n150", batch=8, seq=384, task="embed",
         published=456.0, kind="device", source="tt-bert-reference.md §7b", theirs=SBERT_THEIRS,
         lacks="their embeddings path (3 lookups, 2 adds, to_memory_config) and any op they run that we do not, priced only where listed under theirs; their attention-context matmul has no program config (ttnn_sentencebert_self_attention.py: ttnn picks one at run time, which we do not derive), nor a compute config on QKV; GELU/layernorm and softmax's non-exp passes on priors",
         differs=f"same grid (6x8) and QKV/self-out/attention configs as {_SBERT}; both the bare encoder (embed task)"),
    dict(name="Sentence-BERT N150 b8 e2e", model=BERT_BASE, device="wormhole_n150", batch=8, seq=384, task="embed",
         published=433.0, kind="e2e", runner=TRACE_2CQ, their_runner=SBERT_LOOP, source="tt-bert-reference.md §7b",
         theirs=SBERT_THEIRS, lacks=_HOST_LACKS, differs=_SBERT_RUNNER),
    *(_sbert_mesh(*m) for m in (
        ("N300 DP=2", (1, 2), 772.0, "the second chip's dispatch over ethernet (the N300's remote chip has no PCIe link)"),
        ("T3K DP=8", (1, 8), 2961.0, "the remote chips' dispatch over ethernet and PCIe sharing (4 links for 8 chips)"))),
    dict(name="BGE-large N150 b8 s384", model=BERT_LARGE, device="wormhole_n150", batch=8, seq=384, task="embed",
         published=400.0, kind="device", theirs=BGE_THEIRS,
         source="tenstorrent/tt-metal models/demos/wormhole/bge_large_en/tests/perf/test_bge_perf.py "
                "(expected AVG DEVICE KERNEL SAMPLES/S, margin 3%)",
         lacks="fp32 accumulation is priced only through its 4-tile subblock limit (the table has no fp32-accumulation GEMM); the 400/s is a CI expectation whose schedule may predate the configs read",
         differs=f"same grid (8x8) and FF1/self-out/attention program configs as {_BGE}"),
    dict(name="BGE-large N150 b8 s384 e2e", model=BERT_LARGE, device="wormhole_n150", batch=8, seq=384, task="embed",
         published=230.0, kind="e2e", runner=TRACE_2CQ, their_runner=BGE_LOOP, source="tt-bert-reference.md §7b",
         theirs=BGE_THEIRS,
         lacks=_HOST_LACKS + "; 230/s is 43% below their own 400/s device figure, a gap of ~15 ms per batch that "
               "neither PCIe (under 1 ms) nor op gaps (~1.4 ms) explain",
         differs=_BGE_RUNNER + "; their schedule as above"),
    dict(name="BGE-large N150 b8 s512 e2e", model=BERT_LARGE, device="wormhole_n150", batch=8, seq=512, task="embed",
         published=146.0, kind="e2e", runner=TRACE_2CQ, their_runner=BGE_LOOP, source="tt-bert-reference.md §7b",
         theirs=BGE_THEIRS, lacks=_HOST_LACKS + "; as at 384, and their seq-512 program configs",
         differs="our schedule at seq_len 512 (attention shards 512 wide, softmax block_w 16); their 512 configs "
                 "are not in the files read; " + _BGE_RUNNER),
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


def _throughput(fig: dict, manifest: dict, device, runner: Runner | None = None) -> tuple[float, dict]:
    """(sentences/s compared with the figure, the parts in ms)."""
    pred = predict(manifest, device)
    parts = {"kernels": pred.device_kernel_us / 1e3, "op_gaps": pred.dispatch_total_us / 1e3}
    if fig["kind"] == "device":
        return fig["batch"] / (pred.device_kernel_us * 1e-6), parts
    runner = dataclasses.replace(runner or fig["runner"], batch_per_chip=fig["batch"])
    e = predict_e2e(manifest, pred, runner)
    parts.update(writes=e.writes_us / 1e3, host=e.host_us / 1e3, device=e.device_us / 1e3, reads=e.reads_us / 1e3,
                 iteration=e.iteration_us / 1e3)
    return e.samples_per_s, parts


def _fitted_share(manifest: dict, device, sens) -> float:
    """Share of the predicted time in ops whose price moves most with a fitted constant (vs a prior)."""
    pred = predict(manifest, device)
    fitted = sum(op.us for op, e in zip(pred.ops, sens.per_op) if sens.top(e, 1)[0][0] in FITTED)
    return fitted / pred.device_kernel_us


MATRIX_ENGINE_OPS = ("ttnn.linear", "ttnn.matmul")


def gap_factor(fig: dict, manifest: dict, device) -> dict:
    """For a device figure: the published kernel time per batch, and how much slower than the fitted GEMM table
    prices them our matrix-engine ops would have to run for them alone to close the gap (a diagnostic, not a fit)."""
    pred = predict(manifest, device)
    published_us = fig["batch"] / fig["published"] * 1e6
    matrix_us = sum(op.us for op in pred.ops if op.ttnn_op in MATRIX_ENGINE_OPS)
    return dict(published_kernels_ms=round(published_us / 1e3, 2),
                matrix_share_pct=round(100 * matrix_us / pred.device_kernel_us),
                matrix_slowdown=round((matrix_us + published_us - pred.device_kernel_us) / matrix_us, 2))


def predict_figure(fig: dict, tmp: Path, built: dict) -> dict:
    device = find_device(fig["device"])
    key = (fig["device"], fig["batch"], fig["seq"], fig["task"], json.dumps(fig["model"], sort_keys=True))
    if key not in built:          # figures of the same program share one build
        schedule = dataclasses.replace(default_schedule_for(device), seq_len=fig["seq"])
        built[key] = compile_model(batch=fig["batch"], device=device, schedule=schedule, task=fig["task"],
                                   model=_model_dir(tmp, fig["model"])).manifest
    m = built[key]
    ours, parts = _throughput(fig, m, device)
    sens = sensitivity(m, device)
    fitted_share = _fitted_share(m, device, sens)
    row = dict(figure=fig["name"], kind=fig["kind"], published=fig["published"], source=fig["source"],
               predicted=round(ours, 1), error_pct=round(100 * (ours / fig["published"] - 1), 1),
               parts_ms={k: round(v, 2) for k, v in parts.items()}, ops=len(m["ops"]), grid=m["grid"],
               task=m["task"], runner=fig["runner"].label if fig.get("runner") else "device kernels",
               differs=fig["differs"], rests_on=sens.top(sens.total, 4), fitted_share_pct=round(100 * fitted_share),
               lacks=fig["lacks"])
    if fig["kind"] == "device":
        row["gap"] = gap_factor(fig, m, device)
    if fig.get("theirs"):
        theirs, t_parts = _throughput(fig, apply_theirs(m, fig["theirs"]), device, fig.get("their_runner"))
        row.update(theirs_predicted=round(theirs, 1), theirs_error_pct=round(100 * (theirs / fig["published"] - 1), 1),
                   theirs_kernels_ms=round(t_parts["kernels"], 2), theirs=fig["theirs"]["summary"])
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as t:
        built: dict = {}
        rows = [predict_figure(f, Path(t), built) for f in FIGURES]
    largest = max(abs(r["error_pct"]) for r in rows)
    largest_theirs = max(abs(r.get("theirs_error_pct", r["error_pct"])) for r in rows)
    host = {k: round(getattr(HOST.constants, k), 3) for k in FITTED_HOST}
    if args.json:
        print(json.dumps({"figures": rows, "largest_error_pct": largest, "largest_error_theirs_pct": largest_theirs,
                          "fitted_constants": {k: getattr(CONSTANTS, k) for k in FITTED},
                          "fitted_host_constants": host}, indent=1))
        return 0
    print("held-out BERT figures (device constants fitted on compiler/cost_data/microbench.yaml, host constants on "
          "compiler/cost_data/host_io.yaml; device = sum of device-kernel durations, e2e = compiler/e2e_model.py)")
    print(f"{'figure':30} {'kind':6} {'published/s':>11} {'ours/s':>8} {'error':>7} {'theirs/s':>8} {'error':>7} "
          f"{'kernels ms':>10} {'grid':>5}")
    for r in rows:
        theirs = (f"{r['theirs_predicted']:>8.1f} {r['theirs_error_pct']:>+6.1f}%" if "theirs_predicted" in r
                  else f"{'-':>8} {'-':>7}")
        p = r["parts_ms"]
        print(f"{r['figure']:30} {r['kind']:6} {r['published']:>11.0f} {r['predicted']:>8.1f} {r['error_pct']:>+6.1f}% "
              f"{theirs} {p['kernels']:>10.2f} {r['grid'][0]}x{r['grid'][1]:<3}")
        print(f"  published: {r['source']}")
        if r["kind"] == "e2e":
            print(f"  ours as run: {r['runner']}; per iteration {p['iteration']:.2f} ms = writes {p['writes']:.2f}, "
                  f"host {p['host']:.2f}, device {p['device']:.2f} (kernels {p['kernels']:.2f} + gaps), "
                  f"reads {p['reads']:.2f}")
        print(f"  differs: {r['differs']}")
        if "theirs" in r:
            print(f"  theirs/s prices our program with their choices: {r['theirs']}")
        print(f"  our program rests on (elasticity of its kernel time; * fitted): "
              + ", ".join(f"{k}{'*' if k in FITTED else ''} {v:+.2f}" for k, v in r["rests_on"])
              + f"; {r['fitted_share_pct']}% of the time in ops priced mainly by fitted constants")
        print(f"  lacks: {r['lacks']}")
        if "gap" in r:
            g = r["gap"]
            print(f"  gap: published {g['published_kernels_ms']:.2f} ms of kernels per batch vs our "
                  f"{p['kernels']:.2f}; our matmuls/linears ({g['matrix_share_pct']}% of our time) would have to run "
                  f"{g['matrix_slowdown']:.2f}x slower than the GEMM table prices their shapes to close it alone")
    print("fitted host constants (compiler/cost_data/host_io.yaml): "
          + ", ".join(f"{k} {v:g}" for k, v in host.items()))
    print(f"largest held-out error, our program: {largest:.1f}%; with their documented choices and timed loop where "
          f"they differ: {largest_theirs:.1f}% (target 20%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
