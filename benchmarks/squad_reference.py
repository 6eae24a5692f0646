"""Reproduce the shipped minilm model's README score with HF fp32 on CPU.

    python benchmarks/squad_reference.py [--data ../shared/data/squad-dev-v1.1.json]
        [--model models/minilm-l6-squad1] [--samples 1000] [--batch 8]

HF ``BertForQuestionAnswering`` fp32 eager on the first N SQuAD v1.1 dev questions, through
the same code as ``python -m runtime squad`` (384-token windows, stride 128, best of 20 x 20
start/end candidates, answers up to 30 tokens, official normalisation). The README of
models/minilm-l6-squad1 gives EM 56.20 / F1 65.33 for the first 1,000 questions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.qa import DEFAULT_MODEL_DIR, QAInputError, hf_reference_predict, run_squad  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"))
    ap.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--expect", default="56.20,65.33", help="EM,F1 to compare with ('' to skip)")
    args = ap.parse_args(argv)
    try:
        predict = hf_reference_predict(args.model)
        t0 = time.perf_counter()
        res = run_squad(predict, args.model, args.data, args.batch, samples=args.samples)
    except QAInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    dt = time.perf_counter() - t0
    print(f"HF fp32 {Path(args.model).name}: {res['samples']} questions, {res['windows']} windows, "
          f"{dt:.0f} s: exact {res['exact']:.2f}  f1 {res['f1']:.2f}")
    rc = 0
    if args.expect:
        em, f1 = (float(x) for x in args.expect.split(","))
        ok = abs(res["exact"] - em) < 0.005 + 1e-9 and abs(res["f1"] - f1) < 0.005 + 1e-9
        print(f"README: exact {em:.2f}  f1 {f1:.2f}  -> {'match' if ok else 'MISMATCH'}")
        rc = 0 if ok else 1
    print(json.dumps({k: res[k] for k in ("exact", "f1", "samples", "windows")}))
    return rc


if __name__ == "__main__":
    sys.exit(main())
