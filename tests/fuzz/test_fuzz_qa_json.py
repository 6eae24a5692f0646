"""Mutated demo-inputs JSON and SQuAD JSON through the runtime's real readers (runtime/qa).

`python -m runtime demo|squad` read their files with load_demo_inputs / load_squad before any model runs;
every case must load or raise one QAInputError whose one-line message starts with the file name.
"""
import contextlib
import io
import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz_helpers import assert_one_error_line, structural_mutation, text_mutation
from runtime.qa.app import load_demo_inputs, run_demo
from runtime.qa.errors import QAInputError
from runtime.qa.squad import load_squad

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "models" / "minilm-l6-squad1"
DEMO = json.loads((ROOT / "runtime" / "data" / "input_data.json").read_text())
DEMO["inputs"] = DEMO["inputs"][:3]     # small base document: mutations stay cheap, structure is the same
SQUAD = {"version": "1.1", "data": [
    {"title": "Normans", "paragraphs": [
        {"context": "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, "
                    "a region in France.",
         "qas": [{"id": "q1", "question": "In what country is Normandy located?",
                  "answers": [{"text": "France", "answer_start": 98}, {"text": "France", "answer_start": 98}]},
                 {"id": "q2", "question": "When did the Normans give their name to Normandy?",
                  "answers": [{"text": "10th and 11th centuries", "answer_start": 41}]}]}]},
    {"title": "Oxygen", "paragraphs": [
        {"context": "Oxygen is a chemical element with symbol O and atomic number 8.",
         "qas": [{"id": "q3", "question": "What is the atomic number of oxygen?",
                  "answers": [{"text": "8", "answer_start": 61}]}]}]}]}
N = {"demo": 300, "squad": 300}
LONG = "The quick brown fox jumps over the lazy dog. " * 4000


def _doc(base):
    extra = st.sampled_from([LONG, "x" * 100000, [LONG], {"question": "q?", "context": LONG}, "\ud800", "\x00"])
    structural = structural_mutation(base, extra)
    return st.one_of(
        structural.map(lambda d: ("obj", d)),
        text_mutation(json.dumps(base, indent=1)).map(lambda b: ("bytes", b)),
        st.sampled_from([b"[" * 50000, b'{"inputs": [], "inputs": []}', b'{"data": [], "data": [1]}',
                         b"1" * 5000, b"NaN", b"null", b'"a string"', b"{}", b"[]", b"\xef\xbb\xbf[]",
                         b'{"version": 2.0, "data": [{"paragraphs": [{"context": "c", "qas": [{"question": "q", "is_impossible": 1}]}]}]}',
                         ]).map(lambda b: ("bytes", b)),
    )


def _write(path: Path, payload) -> None:
    kind, value = payload
    if kind == "obj":
        path.write_bytes(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    else:
        path.write_bytes(value)


def _load(kind: str, path: Path):
    try:
        return load_demo_inputs(path) if kind == "demo" else load_squad(path)
    except QAInputError as e:
        msg = str(e)
        assert "\n" not in msg and msg.startswith(f"{path}:"), msg
        return None


@pytest.mark.parametrize("kind", ["demo", "squad"])
def test_mutated_json(kind, tmp_path_factory, fuzz_scale, case_counter):
    tmp = tmp_path_factory.mktemp(f"fuzz_{kind}")
    path = tmp / f"{kind}.json"
    base = DEMO if kind == "demo" else SQUAD

    @settings(max_examples=N[kind] * fuzz_scale, deadline=None, database=None, derandomize=fuzz_scale == 1,
              suppress_health_check=list(HealthCheck))
    @given(_doc(base))
    def run(payload):
        case_counter[f"{kind} json"] += 1
        _write(path, payload)
        _load(kind, path)

    run()


def test_valid_samples_load(tmp_path):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD))
    assert len(load_squad(path).questions) == 3
    assert len(load_demo_inputs(ROOT / "runtime" / "data" / "input_data.json")) == 12


def _fake_predict(input_ids, token_type_ids, attention_mask):
    b, s = input_ids.shape
    return torch.zeros(b, s), torch.zeros(b, s)


@pytest.mark.parametrize("context_words", [1, 380, 2000, 20000])
def test_very_long_context_through_demo(tmp_path, context_words, case_counter):
    """Contexts far beyond one 384-token window are split into windows, never truncated into an error."""
    case_counter["demo json"] += 1
    path = tmp_path / "inputs.json"
    ctx = " ".join(["word"] * context_words)
    path.write_text(json.dumps([{"question": "What word?", "context": ctx}, {"question": "Why?", "context": "c"}]))
    answers = run_demo(_fake_predict, TOKENIZER, path, batch=2, seq_len=384)
    assert len(answers) == 2


def test_very_long_question_is_one_line(tmp_path, case_counter):
    case_counter["demo json"] += 1
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps([{"question": "Why? " * 300, "context": "c"}]))
    with pytest.raises(QAInputError, match=r"inputs.json: \[0\]: question is \d+ tokens"):
        run_demo(_fake_predict, TOKENIZER, path, batch=1, seq_len=384)


def test_demo_count_mismatch_is_one_line(tmp_path):
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps([{"question": "q", "context": "c"}]))
    with pytest.raises(QAInputError, match="holds 1 question/context pairs but the build's batch is 12"):
        run_demo(_fake_predict, TOKENIZER, path, batch=12)


def test_runtime_cli_usage_errors_are_one_line(case_counter):
    from runtime.cli import main

    for argv in (["squad"], ["demo"], ["nope"], ["run", "/nonexistent/build"], ["squad", "/nonexistent", "--samples", "x"]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(argv)
        assert rc == 2
        assert_one_error_line(rc, err.getvalue(), ["error: "])
