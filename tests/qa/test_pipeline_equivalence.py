"""Our windows + post-processing give exactly what HF's question-answering pipeline gives.

transformers 5 dropped the "question-answering" pipeline, so golden/hf_pipeline_golden.json
was recorded with transformers 4.57.1's pipeline on the shipped minilm model (see
golden/make_pipeline_golden.py): per case the inputs, the pipeline parameters, its output
and the exact logits its model produced for every window.
"""

from __future__ import annotations

import numpy as np
import pytest

from runtime.qa import make_windows, pipeline_answers
from runtime.qa.app import run_windows

from .conftest import decode_f32, decode_i32


def _windows_for(tokenizer, pair, params, padding=None):
    max_seq_len = params.get("max_seq_len", 384)
    doc_stride = params.get("doc_stride", min(max_seq_len // 2, 128))
    pad = padding if padding is not None else params.get("padding", "do_not_pad")
    return make_windows(tokenizer, [(pair["question"], pair["context"])], max_seq_len, doc_stride, padding=pad)


def _post_params(params):
    return {k: params[k] for k in ("top_k", "max_answer_len", "handle_impossible_answer", "align_to_words") if k in params}


def test_golden_covers_multi_window_and_variants(golden):
    cases = golden["cases"]
    assert golden["meta"]["transformers"].startswith("4.")
    assert len(cases) >= 40
    assert max(len(c["windows"]) for c in cases) >= 3  # contexts needing several 384-token windows
    assert sum(len(c["windows"]) > 1 for c in cases if "max_seq_len" not in c["params"]) >= 8
    assert any(len(c["answers"]) > 1 for c in cases)  # top_k
    assert any(a["answer"] == "" for c in cases for a in c["answers"])  # impossible answer


def test_windows_identical_to_pipeline(golden, tokenizer):
    """Same token ids, same number of windows, same stride as the pipeline's preprocess."""
    for case in golden["cases"]:
        pair = golden["pairs"][case["pair"]]
        windows = _windows_for(tokenizer, pair, case["params"])
        assert [w.input_ids.tolist() for w in windows] == [decode_i32(w["input_ids"]) for w in case["windows"]]
        for w in windows:
            # context mask: exactly the tokens of sequence 1; offsets index the context
            assert w.context_mask.tolist() == [s == 1 for s in w.sequence_ids]
            assert all(0 <= a <= b <= len(pair["context"]) for (a, b), m in zip(w.offsets, w.context_mask) if m)
            assert w.p_mask[0] == 0 and w.p_mask.tolist()[1:] == (~w.context_mask[1:]).astype(int).tolist()


def test_postprocess_identical_on_identical_logits(golden, tokenizer):
    """Fed the pipeline's own logits, we return its answers: text, start, end and score."""
    for case in golden["cases"]:
        pair = golden["pairs"][case["pair"]]
        windows = _windows_for(tokenizer, pair, case["params"])
        starts, ends = [], []
        for w, gw in zip(windows, case["windows"]):
            for out, key in ((starts, "start"), (ends, "end")):
                a = np.zeros(len(w.input_ids), dtype=np.float32)
                v = decode_f32(gw[key])
                a[: len(v)] = v
                out.append(a)
        got = pipeline_answers(windows, starts, ends, pair["context"], **_post_params(case["params"]))
        want = case["answers"]
        assert [(a.text, a.start, a.end) for a in got] == [(a["answer"], a["start"], a["end"]) for a in want], case["params"]
        assert [a.score for a in got] == [a["score"] for a in want]  # bit for bit
        for a in got:
            assert pair["context"][a.start : a.end] == a.text


def test_live_model_on_our_padded_windows_matches_pipeline(golden, tokenizer, hf_predict):
    """End to end: HF fp32 (transformers 5) on our 384-padded windows, batched like a compiled
    program with batch 4 (short final batch padded), gives the pipeline's answers."""
    cases = [c for c in golden["cases"] if c["params"].get("padding") == "max_length" and "max_seq_len" not in c["params"]]
    # the multi-window pairs and two short ones
    chosen = sorted(cases, key=lambda c: -len(c["windows"]))[:2] + [c for c in cases if len(c["windows"]) == 1][:1]
    all_windows, spans = [], []
    for case in chosen:
        pair = golden["pairs"][case["pair"]]
        ws = _windows_for(tokenizer, pair, case["params"], padding="max_length")
        spans.append((len(all_windows), len(ws)))
        all_windows += ws
    assert sum(n for _, n in spans) >= 6
    starts, ends = run_windows(hf_predict, all_windows, 4)
    for case, (lo, n) in zip(chosen, spans):
        pair = golden["pairs"][case["pair"]]
        got = pipeline_answers(all_windows[lo : lo + n], starts[lo : lo + n], ends[lo : lo + n], pair["context"],
                               **_post_params(case["params"]))
        want = case["answers"]
        assert [(a.text, a.start, a.end) for a in got] == [(a["answer"], a["start"], a["end"]) for a in want]
        assert [a.score for a in got] == pytest.approx([a["score"] for a in want], rel=2e-3, abs=1e-6)
