"""Does the emitted program compute BERT under ttnn's documented op semantics? Measured in one run.

For each target build (the three seed schedules with bert-large, plus bert-base and the shipped MiniLM on
GS E150 b12), the program runs twice on the emulator beside HF fp32 on the same weights and inputs:
  fp32       every tensor kept in fp32, full-precision products (TT_EMULATOR_NUMERICS=fp32); the layouts, head
             split, GELU and every op's meaning as ttnn documents them. Target PCC >= 0.999.
  faithful   the chip's number formats (bfloat8_b, bf16, fidelity, accumulation as modelled). Target >= 0.99.
  accurate   both runs again for the build with `--precision accurate` (schedules/precision/accurate.yaml: erf
             GELU, exact exp, HiFi2 matmuls, fp32 accumulation where the chip has it). The targets are checked
             here; the reference precision (the seed schedules as written, Tenstorrent's settings) is printed
             beside it: its PCC is what the chip's LoFi / fast-approximation arithmetic costs.
  wrong pair the same fp32 run with the head split swapped for ttnn.transformer's op, whose sharded path reads
             heads interleaved: shows the check can fail (expected far below the target).

    python benchmarks/hardware_truth.py [--quick] [--only MODEL:DEVICE ...]   # --quick: MiniLM and bert-base only
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformers import BertConfig, BertForQuestionAnswering  # noqa: E402

from compiler.build import compile_model, write_build  # noqa: E402
from compiler.model_source import resolve_model  # noqa: E402
from compiler.schedule import find_device  # noqa: E402
from runtime.cli import fixed_batch  # noqa: E402

WRONG_SPLIT = ("ttnn.experimental.split_query_key_value_and_split_heads(qkv, GRID, num_heads=NUM_HEADS, ",
               "ttnn.transformer.split_query_key_value_and_split_heads(ttnn.reshape(qkv, (BATCH, SEQ_LEN, QKV_WIDTH)), "
               "num_heads=NUM_HEADS, transpose_key=True, ")


def pcc(a, b):
    return torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1].item()


def _model_dir(tmp: Path, name: str) -> Path:
    if name == "minilm":
        shared = ROOT.parent / "shared" / "models" / "minilm-l6-squad1"
        return shared if shared.is_dir() else ROOT / "models" / "minilm-l6-squad1"
    torch.manual_seed(0)
    cfg = resolve_model(None).bert_config() if name == "bert-large" else BertConfig(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    out = tmp / name
    if not out.exists():
        BertForQuestionAnswering(cfg).eval().save_pretrained(out)
    return out


def _run(build: Path, numerics: str, inputs: dict):
    from runtime import emulator
    from runtime.session import Session

    os.environ["TT_EMULATOR_NUMERICS"] = numerics
    emulator.set_numerics(numerics)
    try:
        session = Session(build, device="emulator", log=lambda m: None)
        return session.predict(**inputs)
    finally:
        emulator.set_numerics("faithful")
        os.environ.pop("TT_EMULATOR_NUMERICS", None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="MiniLM and bert-base only")
    ap.add_argument("--only", action="append", metavar="MODEL:DEVICE", help="run only these targets, e.g. "
                    "bert-large:wormhole_n300 (repeatable)")
    args = ap.parse_args()
    targets = [("minilm", "grayskull_e150", 12), ("bert-base", "wormhole_n300", 7)]
    if not args.quick:
        targets += [("bert-large", "grayskull_e150", 12), ("bert-large", "wormhole_n300", 7),
                    ("bert-large", "wormhole_n300_eth", 8)]
    if args.only:
        targets = [t for t in targets if f"{t[0]}:{t[1]}" in args.only]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["TT_BERT_CACHE"] = str(tmp / "cache")
        for name, device, batch in targets:
            model_dir = _model_dir(tmp, name)
            build = tmp / f"{name}-{device}-b{batch}"
            write_build(compile_model(batch=batch, device=find_device(device), model=str(model_dir)), build)
            inputs = fixed_batch(batch, 384, 1000)
            model = BertForQuestionAnswering.from_pretrained(model_dir).eval()
            with torch.no_grad():
                ref = model(**inputs)
            mask = inputs["attention_mask"].bool()

            def score(logits):
                start, end = logits
                return pcc(start[mask], ref.start_logits[mask]), pcc(end[mask], ref.end_logits[mask])

            fp32 = score(_run(build, "fp32", inputs))
            faithful = score(_run(build, "faithful", inputs))
            accurate = build.with_name(build.name + "-accurate")
            write_build(compile_model(batch=batch, device=find_device(device), model=str(model_dir),
                                      precision="accurate"), accurate)
            acc_fp32, acc_faithful = score(_run(accurate, "fp32", inputs)), score(_run(accurate, "faithful", inputs))
            wrong = build.with_name(build.name + "-wrong-split")
            write_build(compile_model(batch=batch, device=find_device(device), model=str(model_dir)), wrong)
            program = wrong / "program.py"
            program.write_text(program.read_text().replace(*WRONG_SPLIT))
            manifest = json.loads((wrong / "manifest.json").read_text())
            manifest["program_sha256"] = hashlib.sha256(program.read_bytes()).hexdigest()
            (wrong / "manifest.json").write_text(json.dumps(manifest))
            wrong_pcc = score(_run(wrong, "fp32", inputs))
            rows.append((f"{name} {device} b{batch}", acc_fp32, acc_faithful))
            print(f"{rows[-1][0]:34s} accurate fp32 {acc_fp32[0]:.5f}/{acc_fp32[1]:.5f} faithful {acc_faithful[0]:.5f}/"
                  f"{acc_faithful[1]:.5f} | reference fp32 {fp32[0]:.5f}/{fp32[1]:.5f} faithful {faithful[0]:.5f}/"
                  f"{faithful[1]:.5f} | wrong split {wrong_pcc[0]:.3f}/{wrong_pcc[1]:.3f}  (start/end PCC)", flush=True)
    ok = all(min(r[1]) >= 0.999 and min(r[2]) >= 0.99 for r in rows)
    print(f"targets with --precision accurate (fp32 >= 0.999, faithful >= 0.99): {'met' if ok else 'NOT met'} "
          f"on {len(rows)} builds")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
