"""Streaming / resumable SQuAD passes (runtime/qa/stream.py): same answers as run_squad, resume after an
interrupt, bounded state."""

from __future__ import annotations

import json

import pytest

from runtime.qa import run_squad
from runtime.qa import stream
from runtime.qa.features import load_tokenizer
from runtime.qa.squad import load_squad

from .conftest import fake_logits


def _file(tmp_path, n=150):
    long_ctx = " ".join(f"Sentence {i} says the river {i} flows north of town {i}." for i in range(70))
    short = "Alice met Bob in Paris on Monday."
    paras = []
    for p in range(n // 3):
        ctx = long_ctx if p % 4 == 0 else short   # some questions span several windows
        qas = [{"id": f"q{p}-{j}", "question": ["Who met Bob?", "Where?", "Which river flows north?"][j],
                "answers": [{"text": "Alice", "answer_start": 0}]} for j in range(3)]
        paras.append({"context": ctx, "qas": qas})
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paras}]}), encoding="utf-8")
    return path


class Predict:
    def __init__(self, fail_after=None):
        self.calls = 0
        self.fail_after = fail_after

    def __call__(self, input_ids, token_type_ids, attention_mask):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        return fake_logits(input_ids, token_type_ids)


def test_stream_matches_run_squad_and_resumes(tmp_path, model_dir, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_QUESTIONS", 16)    # windows batched across many chunk boundaries
    data = _file(tmp_path)
    ref = run_squad(Predict(), model_dir, data, 5, progress=False, return_predictions=True)
    ds = load_squad(data)
    expect = dict(zip([q.id for q in ds.questions], ref["predictions"]))

    answers = tmp_path / "answers.jsonl"
    with pytest.raises(KeyboardInterrupt):
        stream.evaluate_squad(Predict(fail_after=7), model_dir, data, 5, answers_path=answers, meta={"m": 1},
                              progress=False)
    kept = stream.read_answers(answers)["program"]
    assert 0 < len(kept) < len(expect) and all(expect[k] == v for k, v in kept.items())
    with open(answers, "a", encoding="utf-8") as f:
        f.write('{"pass": "program", "id": "torn')      # killed mid-write: ignored
    again = Predict()
    res = stream.evaluate_squad(again, model_dir, data, 5, answers_path=answers, meta={"m": 1}, progress=False,
                                reference_predict=Predict())
    assert res["resumed"]["program"] == len(kept) and res["resumed"]["hf_fp32"] == 0
    assert again.calls < ref["windows"] // 5 + 1        # only the questions not answered before ran
    final = stream.read_answers(answers)
    assert final["program"] == expect and final["hf_fp32"] == expect
    assert res["exact"] == ref["exact"] and res["f1"] == ref["f1"] and res["ref_exact"] == ref["exact"]
    with pytest.raises(ValueError, match="another run"):
        stream.evaluate_squad(Predict(), model_dir, data, 5, answers_path=answers, meta={"m": 2}, progress=False)


def test_stream_keeps_only_unfinished_questions(tmp_path, model_dir):
    """The pass holds logits of at most a batch's questions at a time (memory independent of their number)."""
    data = _file(tmp_path, n=60)
    ds = load_squad(data)
    seen = []
    orig = stream.squad_answer

    def spy(*a, **k):
        seen.append(len(a[0]))
        return orig(*a, **k)

    stream.squad_answer = spy
    try:
        got = stream.stream_pass(Predict(), load_tokenizer(model_dir), ds.questions, 4, name="program",
                                 progress=False)
    finally:
        stream.squad_answer = orig
    assert len(got) == len(ds.questions) and len(seen) == len(ds.questions)
