"""Regenerate hf_pipeline_golden.json with a transformers 4.x QuestionAnsweringPipeline.

transformers 5 removed the "question-answering" pipeline, so the answers our
post-processing must reproduce were recorded once with the last 4.x release:

    python -m venv --system-site-packages /tmp/hf4
    /tmp/hf4/bin/pip install "transformers==4.57.1" "tokenizers>=0.22,<=0.23.0" "huggingface_hub<1.0"
    HF_HUB_OFFLINE=1 /tmp/hf4/bin/python tests/qa/golden/make_pipeline_golden.py

For each case the file keeps the pipeline's inputs and parameters, its output, and the exact
start/end logits its model produced for each window (float32, base64; real tokens only, since
padding is masked anyway), so the tests can feed our post-processing the very same logits.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import torch
import transformers
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, pipeline

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MODEL = ROOT / "models" / "minilm-l6-squad1"
SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"

assert transformers.__version__.startswith("4."), "needs transformers 4.x (v5 has no QA pipeline)"


def squad_pairs():
    d = json.loads(SQUAD.read_text(encoding="utf-8"))
    picks = [  # (article, paragraph, question): long contexts first (2-5 windows of 384)
        (15, 39, 0), (15, 39, 2), (19, 7, 1), (19, 7, 3), (26, 5, 2), (26, 5, 4),
        (33, 0, 2), (15, 35, 1), (15, 35, 4), (0, 0, 0), (2, 3, 1), (5, 1, 0),
    ]
    out = []
    for a, p, q in picks:
        para = d["data"][a]["paragraphs"][p]
        out.append((para["qas"][q]["question"], para["context"]))
    return out


EXTRA = [
    ("Where do I live?", "My name is Wolfgang and I live in Berlin"),
    ("What is the capital?", "Paris."),  # one-word context
    ("Who wrote it?", "It was written by   Jane   Doe-Smith (née Roe), in 1999; revised 2003."),
]

PARAMS = [
    {},  # pipeline defaults: top_k 1, max_answer_len 15, unpadded windows
    {"top_k": 3, "padding": "max_length"},
    {"top_k": 5, "max_seq_len": 128, "doc_stride": 32},
    {"handle_impossible_answer": True, "top_k": 2},
    {"max_answer_len": 30, "align_to_words": False, "top_k": 4},
]


def enc(a: torch.Tensor) -> str:
    return base64.b64encode(a.detach().float().numpy().astype("<f4").tobytes()).decode()


def enc_ids(ids) -> str:
    return base64.b64encode(np.asarray(ids, dtype="<i4").tobytes()).decode()


def main():
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForQuestionAnswering.from_pretrained(MODEL, torch_dtype=torch.float32).eval()
    captured = []
    orig_forward = model.forward

    def forward(*args, **kwargs):
        out = orig_forward(*args, **kwargs)
        # logits past the real tokens (padding) are masked by the post-processing: not kept
        n = int(kwargs["attention_mask"][0].sum())
        captured.append((kwargs["input_ids"][0].tolist(), out.start_logits[0][:n], out.end_logits[0][:n]))
        return out

    model.forward = forward
    pipe = pipeline("question-answering", model=model, tokenizer=tok, device="cpu")
    cases = []
    pairs = squad_pairs() + EXTRA
    for i, (q, c) in enumerate(pairs):
        for j, params in enumerate(PARAMS):
            if j >= 2 and i % 2:  # keep the file small: the last params on every other pair
                continue
            captured.clear()
            out = pipe(question=q, context=c, **params)
            outs = out if isinstance(out, list) else [out]
            cases.append({
                "pair": i,
                "params": params,
                "answers": [{k: (float(v) if k == "score" else v) for k, v in o.items()} for o in outs],
                "windows": [{"input_ids": enc_ids(ids), "start": enc(s), "end": enc(e)} for ids, s, e in captured],
            })
    meta = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "model": "models/minilm-l6-squad1 (fp32)",
        "note": "written by tests/qa/golden/make_pipeline_golden.py; SQuAD v1.1 dev contexts are CC BY-SA 4.0",
    }
    (HERE / "hf_pipeline_golden.json").write_text(json.dumps({"meta": meta, "pairs": [{"question": q, "context": c} for q, c in pairs], "cases": cases}) + "\n", encoding="utf-8")
    print(len(cases), "cases", sum(len(c["windows"]) for c in cases), "windows")


if __name__ == "__main__":
    sys.exit(main())
