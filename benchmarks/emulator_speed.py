"""Emulator speed on the same CPU, measured in one run:
  1. emulated forward of the compiled program / HF eager fp32 forward (same model, batch, inputs); target <= 1.5
  2. cached weight load / first weight conversion (through the on-disk cache); target <= 0.1
Defaults: bert-large (random weights) for WH N300 batch 7. Also prints PCC and the measured L1 peak.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformers import BertForQuestionAnswering  # noqa: E402

from compiler.build import compile_model, write_build  # noqa: E402
from compiler.model_source import resolve_model  # noqa: E402
from compiler.schedule import find_device  # noqa: E402
from runtime.cli import fixed_batch  # noqa: E402


def pcc(a, b):
    return torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1].item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="wormhole_n300")
    ap.add_argument("--batch", type=int, default=7)
    ap.add_argument("--model", default=None, help="config/checkpoint (default: bert-large config, random weights)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["TT_BERT_CACHE"] = str(tmp / "cache")
        torch.manual_seed(0)
        cfg = resolve_model(args.model).bert_config()
        model = BertForQuestionAnswering(cfg).eval()
        model.save_pretrained(tmp / "model")
        (tmp / "model" / "config.json").write_text((tmp / "model" / "config.json").read_text())
        write_build(compile_model(batch=args.batch, device=find_device(args.device), model=str(tmp / "model")), tmp / "build")
        from runtime.session import Session

        first = Session(tmp / "build", device="emulator", log=lambda m: None)
        cached = Session(tmp / "build", device="emulator", log=lambda m: None)
        inputs = fixed_batch(args.batch, 384, cfg.vocab_size)
        with torch.no_grad():
            model(**inputs)  # warm-up
            t = time.perf_counter()
            ref = model(**inputs)
            hf_s = time.perf_counter() - t
        cached.predict(**inputs)  # warm-up
        cached.device.reset_l1_peak()
        t = time.perf_counter()
        start, end = cached.predict(**inputs)
        emu_s = time.perf_counter() - t
        mask = inputs["attention_mask"].bool()
        print(f"model {cfg.num_hidden_layers} layers hidden {cfg.hidden_size}, {args.device} batch {args.batch}")
        print(f"HF eager fp32 forward: {hf_s:.2f} s; emulated forward: {emu_s:.2f} s")
        print(f"PCC start {pcc(start[mask], ref.start_logits[mask]):.5f} end {pcc(end[mask], ref.end_logits[mask]):.5f}; "
              f"L1 peak measured {cached.l1_peak_bytes_per_core()} B/core, compiler {first.build.manifest['peak_l1_bytes_per_core']}")
        conv = first.weight_stats["convert_s"] + first.weight_stats["store_s"]
        load = cached.weight_stats["load_s"] + cached.weight_stats["hash_s"]
        print(f"first conversion (convert + store) {conv:.2f} s; cached load (hash + verify + load) {load:.2f} s")
        print(f"cached load / first conversion = {load / conv:.3f}")
        print(f"emulator / HF fp32 = {emu_s / hf_s:.3f}")


if __name__ == "__main__":
    main()
