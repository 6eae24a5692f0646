"""PCC vs Hugging Face of a traced, data-parallel build on the emulated mesh, and its run time.

    python benchmarks/mesh_trace_pcc.py BUILD_DIR [--seed 0]

Random-weight model of the build's config (the shipped bert-large config by default), global batch = batch per chip
x chips, padded sequences; prints start / end logits PCC and the run time (a traced build's first batch is a
warm-up run, the capture and a replay on every chip). tests/runtime/test_mesh_trace.py checks the per-chip slices
against the single-chip program bit for bit on a small model.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import transformers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime.session import Session  # noqa: E402


def pcc(a, b) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    manifest = json.loads((Path(args.build_dir) / "manifest.json").read_text())
    cfg_path = ROOT / "compiler" / "model_configs" / (manifest["model"]["name"].replace("/", "--") + ".json")
    config = transformers.BertConfig(**json.loads(cfg_path.read_text())) if cfg_path.is_file() else \
        transformers.BertConfig.from_pretrained(manifest["model"]["name"])
    config._attn_implementation = "eager"
    torch.manual_seed(args.seed)
    hf = transformers.BertForQuestionAnswering(config).eval()
    runner = manifest["runner"]
    batch, seq = manifest["batch"] * runner["chips"], manifest["seq_len"]
    g = torch.Generator().manual_seed(args.seed + 1)
    ids = torch.randint(0, config.vocab_size, (batch, seq), generator=g)
    types = torch.zeros(batch, seq, dtype=torch.long)
    types[:, seq // 3:] = 1
    mask = torch.ones(batch, seq, dtype=torch.long)
    for b in range(batch):
        mask[b, seq - (b * seq) // (2 * batch):] = 0
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=types, attention_mask=mask)
    t0 = time.perf_counter()
    with Session(args.build_dir, device="emulator", log=lambda m: None, state_dict=hf.state_dict()) as s:
        t1 = time.perf_counter()
        start, end = s.predict(ids, types, mask)
        t2 = time.perf_counter()
    print(f"{args.build_dir}: {manifest['device']} mesh {runner['mesh_shape']} trace {runner['trace']} precision "
          f"{manifest['precision']} batch {manifest['batch']} x {runner['chips']} chips x {seq} tokens")
    print(f"PCC vs HF fp32: start {pcc(start, ref.start_logits):.4f}  end {pcc(end, ref.end_logits):.4f}")
    print(f"emulated run: session open {t1 - t0:.1f} s, predict (warm-up + capture + replay on every chip) {t2 - t1:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
