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
from compiler.cost_model import FITTED, CONSTANTS  # noqa: E402
from compiler.schedule import default_schedule_for, find_device  # noqa: E402

# BertConfig shapes of the published models (vocab and position table as their checkpoints have them).
BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 vocab_size=30522, max_position_embeddings=512)
BERT_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                  vocab_size=30522, max_position_embeddings=512)

_REF = "metal_BERT_large_11 (BFLOAT8_B-SHARDED)"
FIGURES = [
    dict(name="BERT-large GS E150 b12", model=BERT_LARGE, device="grayskull_e150", batch=12, seq=384,
         published=400.0, kind="device",
         differs=f"same grid (12x8, COL_MAJOR) and per-op configs as {_REF}; we emit for the v0.55 API"),
    dict(name="BERT-large WH N300 b8 eth", model=BERT_LARGE, device="wormhole_n300_eth", batch=8, seq=384,
         published=340.0, kind="device",
         differs=f"same grid (8x8, ethernet dispatch) and per-op configs as {_REF}"),
    dict(name="BERT-large WH N300 b7", model=BERT_LARGE, device="wormhole_n300", batch=7, seq=384,
         published=280.0, kind="device",
         differs="theirs: 7 / kernel time of the batch-8 config (test_perf_device_bert.py); ours: a batch-7 "
                 "program on 8x7 with the same per-core work"),
    dict(name="Sentence-BERT N150 b8 (device)", model=BERT_BASE, device="wormhole_n150", batch=8, seq=384,
         published=456.0, kind="device",
         differs="same grid (6x8) and QKV/FF1/self-out/attention configs as models/demos/sentence_bert/ttnn/"
                 "common.py; theirs ends in mean pooling on device, ours in the QA head (1 linear)"),
    dict(name="Sentence-BERT N150 b8 (e2e)", model=BERT_BASE, device="wormhole_n150", batch=8, seq=384,
         published=433.0, kind="e2e",
         differs="as above; theirs runs trace + 2 command queues, e2e includes host<->device input/output"),
    dict(name="BGE-large N150 b8 seq384 (e2e)", model=BERT_LARGE, device="wormhole_n150", batch=8, seq=384,
         published=230.0, kind="e2e",
         differs="bert-large backbone on our reference schedule (8x8); theirs (models/demos/wormhole/bge_large_en) "
                 "has its own configs, trace + 2CQ, e2e includes host I/O and pooling"),
    dict(name="BGE-large N150 b8 seq512 (e2e)", model=BERT_LARGE, device="wormhole_n150", batch=8, seq=512,
         published=146.0, kind="e2e",
         differs="our schedule at seq_len 512 (16 tiles: attention shards 512 wide, softmax block_w 16); "
                 "theirs as above"),
]


def _model_dir(tmp: Path, cfg: dict) -> str:
    d = tmp / f"bert-{cfg['hidden_size']}-{cfg['num_hidden_layers']}"
    if not d.is_dir():
        d.mkdir()
        (d / "config.json").write_text(json.dumps(dict(model_type="bert", type_vocab_size=2, layer_norm_eps=1e-12,
                                                       hidden_act="gelu", **cfg)))
    return str(d)


def predict_figure(fig: dict, tmp: Path) -> dict:
    device = find_device(fig["device"])
    schedule = dataclasses.replace(default_schedule_for(device), seq_len=fig["seq"])
    m = compile_model(batch=fig["batch"], device=device, schedule=schedule, model=_model_dir(tmp, fig["model"])).manifest
    kernels_ms = m["prediction"]["device_kernel_ms"]
    gaps_ms = len(m["ops"]) * m["prediction"]["op_dispatch_us_per_op"] / 1e3
    compared_ms = kernels_ms + (gaps_ms if fig["kind"] == "e2e" else 0.0)
    predicted = fig["batch"] / (compared_ms * 1e-3)
    return dict(figure=fig["name"], kind=fig["kind"], published=fig["published"], predicted=round(predicted, 1),
                error_pct=round(100 * (predicted / fig["published"] - 1), 1), kernels_ms=kernels_ms,
                op_gaps_ms=round(gaps_ms, 2), ops=len(m["ops"]), grid=m["grid"], differs=fig["differs"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as t:
        rows = [predict_figure(f, Path(t)) for f in FIGURES]
    largest = max(abs(r["error_pct"]) for r in rows)
    if args.json:
        print(json.dumps({"figures": rows, "largest_error_pct": largest,
                          "fitted_constants": {k: getattr(CONSTANTS, k) for k in FITTED}}, indent=1))
        return 0
    print("held-out BERT figures (constants fitted on compiler/cost_data/microbench.yaml only)")
    print(f"{'figure':32} {'kind':6} {'published/s':>11} {'predicted/s':>11} {'error':>7} {'kernels ms':>10} "
          f"{'gaps ms':>7} {'grid':>5}")
    for r in rows:
        print(f"{r['figure']:32} {r['kind']:6} {r['published']:>11.0f} {r['predicted']:>11.1f} {r['error_pct']:>+6.1f}% "
              f"{r['kernels_ms']:>10.2f} {r['op_gaps_ms']:>7.2f} {r['grid'][0]}x{r['grid'][1]:<3}")
        print(f"  differs: {r['differs']}")
    print(f"largest held-out error {largest:.1f}% (target 20%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
