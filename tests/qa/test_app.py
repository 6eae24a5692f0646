"""run_demo / run_squad / run_windows: batching, padding, counts, errors, the real model."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from runtime.qa import (
    DEFAULT_INPUTS,
    QAInputError,
    hf_reference_predict,
    load_demo_inputs,
    load_tokenizer,
    make_windows,
    pipeline_answers,
    run_demo,
    run_squad,
    run_windows,
)
from runtime.qa.squad import squad_scores, load_squad

from .conftest import SQUAD_SLICE, fake_logits

EXPECTED_DEMO = [
    "Cam Newton",
    "William the Conqueror",
    "1884",
    "photosynthesis",
    "1961 to 1972",
    "seafloor spreading",
    "12.5",
    "Ögedei Khan",
    "Antigone",
    "Mongol Empire",
    "pinch in two",
    "narcotic drugs",
]


class Recorder:
    """A fake compiled program: logits from the token ids only; records every call."""

    def __init__(self, cls_logit=None):
        self.calls = []
        self.cls_logit = cls_logit

    def __call__(self, input_ids, token_type_ids, attention_mask):
        self.calls.append((tuple(input_ids.shape), input_ids.dtype, token_type_ids.dtype, attention_mask.dtype))
        s, e = fake_logits(input_ids, token_type_ids)
        if self.cls_logit is not None:
            s[:, 0] = e[:, 0] = self.cls_logit
        return s, e


def test_demo_prints_twelve_sensible_answers_with_hf_fp32(hf_predict, model_dir):
    got = run_demo(hf_predict, model_dir, None, 12)
    questions = [e.question for e in load_demo_inputs(DEFAULT_INPUTS)]
    assert [q for q, _ in got] == questions
    assert [a for _, a in got] == EXPECTED_DEMO


def test_demo_needs_exactly_batch_inputs(model_dir):
    rec = Recorder()
    for batch in (7, 13):
        with pytest.raises(QAInputError) as info:
            run_demo(rec, model_dir, DEFAULT_INPUTS, batch)
        msg = str(info.value)
        assert "holds 12 question/context pairs" in msg and f"batch is {batch}" in msg and str(DEFAULT_INPUTS) in msg
    assert rec.calls == []


def test_demo_runs_extra_windows_in_padded_batches(tmp_path, model_dir, tokenizer):
    shipped = load_demo_inputs(DEFAULT_INPUTS)
    long_ex = shipped[-1]  # 791-token context
    items = [{"question": e.question, "context": e.context} for e in (shipped[0], long_ex, shipped[3])]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    rec = Recorder()
    got = run_demo(rec, model_dir, path, 3)

    windows = make_windows(tokenizer, [(i["question"], i["context"]) for i in items])
    n_long = sum(w.example_index == 1 for w in windows)
    assert n_long >= 3 and len(windows) == n_long + 2
    # every call is one full batch of int64 [3, 384]; the last one is padded
    assert len(rec.calls) == math.ceil(len(windows) / 3)
    assert all(c == ((3, 384), torch.int64, torch.int64, torch.int64) for c in rec.calls)
    # same answers as post-processing each example's windows directly
    for k, item in enumerate(items):
        ws = [w for w in windows if w.example_index == k]
        s, e = fake_logits(torch.from_numpy(np.stack([w.input_ids for w in ws])),
                           torch.from_numpy(np.stack([w.token_type_ids for w in ws])))
        (best,) = pipeline_answers(ws, s.numpy(), e.numpy(), item["context"])
        assert got[k] == (item["question"], best.text)


def test_demo_rejects_question_too_long_for_the_window(tmp_path, model_dir):
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{"question": "why " * 300, "context": "because."}]), encoding="utf-8")
    with pytest.raises(QAInputError) as info:
        run_demo(Recorder(), model_dir, path, 1)
    assert "[0]: question is 300 tokens" in str(info.value) and "at most 252" in str(info.value)


def test_run_squad_hf_fp32_and_reference(hf_predict, model_dir, capsys):
    data = SQUAD_SLICE   # 50 real dev questions, shipped (tests/qa/data/README.md)
    res = run_squad(hf_predict, model_dir, data, 4, samples=6, reference_predict=hf_predict,
                    progress=True, return_predictions=True)
    assert {"exact", "f1", "ref_exact", "ref_f1", "samples"} <= set(res)
    assert res["samples"] == 6 and res["windows"] == 6 and res["version_2"] is False
    assert res["exact"] == res["ref_exact"] and res["f1"] == res["ref_f1"]
    assert res["predictions"] == res["ref_predictions"]
    ds = load_squad(data, samples=6)
    assert res["exact"] == squad_scores(res["predictions"], ds.questions)["exact"]
    assert res["exact"] >= 50 and res["f1"] >= 60
    err = capsys.readouterr().err
    assert "squad: program" in err and "squad: HF fp32" in err  # tqdm progress on stderr
    json.dumps({k: res[k] for k in ("exact", "f1", "ref_exact", "ref_f1", "samples")})


def _v2_file(tmp_path):
    obj = {
        "version": "v2.0",
        "data": [{"title": "t", "paragraphs": [{
            "context": "Alice met Bob in Paris on Monday.",
            "qas": [
                {"id": "a", "question": "Who met Bob?", "answers": [{"text": "Alice", "answer_start": 0}], "is_impossible": False},
                {"id": "b", "question": "Who met Carol?", "answers": [], "is_impossible": True},
                {"id": "c", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 17}], "is_impossible": False},
            ]}]}],
    }
    p = tmp_path / "v2.json"
    p.write_text(json.dumps(obj), encoding="utf-8")
    return p


def test_run_squad_v2_null_answers(tmp_path, model_dir):
    path = _v2_file(tmp_path)
    # [CLS] far above every span: every prediction is empty -> only the impossible one is right
    rec = Recorder(cls_logit=100.0)
    res = run_squad(rec, model_dir, path, 2, progress=False, return_predictions=True)
    assert res["version_2"] and res["predictions"] == ["", "", ""]
    assert res["exact"] == pytest.approx(100 / 3) and res["NoAns_exact"] == 100.0 and res["HasAns_exact"] == 0.0
    assert res["ref_exact"] is None and res["ref_f1"] is None
    assert len(rec.calls) == 2 and all(c[0] == (2, 384) for c in rec.calls)  # 3 windows: 2 + padded 1
    # [CLS] far below: spans everywhere -> the impossible question is wrong
    res = run_squad(Recorder(cls_logit=-100.0), model_dir, path, 2, progress=False, return_predictions=True)
    assert all(res["predictions"]) and res["NoAns_exact"] == 0.0
    # a huge threshold never predicts no-answer
    res = run_squad(Recorder(cls_logit=100.0), model_dir, path, 2, progress=False, null_score_diff_threshold=1e9,
                    return_predictions=True)
    assert all(res["predictions"])


def test_run_windows_checks_the_program_output(tokenizer):
    windows = make_windows(tokenizer, [("Who?", "Alice met Bob.")] * 3)
    ok = run_windows(lambda i, t, a: fake_logits(i), windows, 2)
    assert ok[0].shape == (3, 384) and ok[0].dtype == np.float32
    # HF-style output objects and fp16 tensors are accepted
    obj = run_windows(lambda i, t, a: SimpleNamespace(start_logits=fake_logits(i)[0].half(),
                                                      end_logits=fake_logits(i)[1].half()), windows, 2)
    assert np.allclose(obj[0], ok[0], atol=1e-2)
    with pytest.raises(ValueError, match=r"shape \(2, 383\), expected \(2, 384\)"):
        run_windows(lambda i, t, a: (torch.zeros(2, 383), torch.zeros(2, 383)), windows, 2)
    with pytest.raises(ValueError, match="non-finite start_logits"):
        run_windows(lambda i, t, a: (torch.full((2, 384), float("nan")), torch.zeros(2, 384)), windows, 2)
    with pytest.raises(ValueError, match="batch"):
        run_windows(lambda i, t, a: None, windows, 0)


def test_missing_model_or_tokenizer_dir(tmp_path):
    with pytest.raises(QAInputError, match="no such model directory"):
        load_tokenizer(tmp_path / "nope")
    with pytest.raises(QAInputError, match="holds no tokenizer"):
        load_tokenizer(tmp_path)
    with pytest.raises(QAInputError, match="no config.json"):
        hf_reference_predict(tmp_path)
