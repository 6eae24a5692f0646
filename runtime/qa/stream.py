"""Streaming, resumable SQuAD passes: memory independent of the number of questions, answers kept on interrupt.

Questions are tokenised a chunk at a time; windows are batched across chunk boundaries (every batch full but
the last); a question's logits are kept only until its last window has run, then its answer text is appended
to an answers file (JSON lines ``{"pass": ..., "id": ..., "text": ...}``, flushed per batch).  A later run with
the same file skips the questions already answered in that pass, so an interrupted evaluation resumes where it
stopped.  The answers equal ``run_squad``'s (same windows, same post-processing; tests/qa/test_stream.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .features import DEFAULT_DOC_STRIDE, DEFAULT_MAX_SEQ_LEN, QAExample, make_windows
from .postprocess import squad_answer

CHUNK_QUESTIONS = 64   # questions tokenised at a time


def read_answers(path: str | Path | None) -> dict[str, dict[str, str]]:
    """``{pass: {question id: text}}`` from an answers file (missing file: empty; a torn last line is ignored)."""
    out: dict[str, dict[str, str]] = {}
    if path is None or not Path(path).exists():
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue          # the line being written when the run was killed
            if "pass" in rec:   # (the first line is the run's meta)
                out.setdefault(rec["pass"], {})[rec["id"]] = rec["text"]
    return out


def _windows(tokenizer, questions, seq_len: int, doc_stride: int, source) -> Iterator[tuple[int, int, object]]:
    """(question position, windows of that question, window) in order, tokenising CHUNK_QUESTIONS at a time."""
    for lo in range(0, len(questions), CHUNK_QUESTIONS):
        chunk = questions[lo:lo + CHUNK_QUESTIONS]
        examples = [QAExample(q.question.lstrip(), q.context, q.id) for q in chunk]
        wins = make_windows(tokenizer, examples, seq_len, doc_stride, labels=[f"question {q.id}" for q in chunk],
                            source=source)
        counts: dict[int, int] = {}
        for w in wins:
            counts[w.example_index] = counts.get(w.example_index, 0) + 1
        for w in wins:
            yield lo + w.example_index, counts[w.example_index], w


def stream_pass(predict: Callable, tokenizer, questions: Sequence, batch: int, *, name: str,
                answers_path: str | Path | None = None, done: dict[str, str] | None = None,
                seq_len: int = DEFAULT_MAX_SEQ_LEN, doc_stride: int = DEFAULT_DOC_STRIDE, progress: bool = True,
                source=None, **post) -> dict[str, str]:
    """Answer every question not in ``done`` with ``predict``; returns ``{id: text}`` for all questions.
    ``post``: squad_answer's keywords (n_best, max_answer_len, version_2, null_score_diff_threshold)."""
    from .app import run_windows

    answers = dict(done or {})
    todo = [q for q in questions if q.id not in answers]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(questions), initial=len(questions) - len(todo), desc=f"squad: {name}", unit="question")
    out = None
    if answers_path is not None:
        torn = Path(answers_path).exists() and Path(answers_path).stat().st_size and \
            Path(answers_path).read_bytes()[-1:] != b"\n"
        out = open(answers_path, "a", encoding="utf-8")
        if torn:   # a line cut by the interrupt: end it, so the next record starts a line of its own
            out.write("\n")
    pending: dict[int, list] = {}     # question position -> [(window, start, end)] until its last window ran

    def flush(wins):
        starts, ends = run_windows(predict, [w for _, _, w in wins], batch)
        for (qi, count, w), s, e in zip(wins, starts, ends):
            got = pending.setdefault(qi, [])
            got.append((w, s, e))
            if len(got) == count:
                del pending[qi]
                q = todo[qi]
                text = squad_answer([g[0] for g in got], np.stack([g[1] for g in got]),
                                    np.stack([g[2] for g in got]), q.context, **post).text
                answers[q.id] = text
                if out is not None:
                    out.write(json.dumps({"pass": name, "id": q.id, "text": text}) + "\n")
                if bar is not None:
                    bar.update(1)
        if out is not None:
            out.flush()

    try:
        buf = []
        for item in _windows(tokenizer, todo, seq_len, doc_stride, source):
            buf.append(item)
            if len(buf) == batch:
                flush(buf)
                buf = []
        if buf:
            flush(buf)
    finally:
        if out is not None:
            out.close()
        if bar is not None:
            bar.close()
    return answers


def evaluate_squad(predict: Callable, tokenizer_dir, data_path, batch: int, *, samples: int | None = None,
                   reference_predict: Callable | None = None, answers_path: str | Path | None = None,
                   meta: dict | None = None, progress: bool = True, n_best: int = 20, max_answer_len: int = 30,
                   null_score_diff_threshold: float = 0.0) -> dict:
    """``run_squad``'s scores from streaming passes (program, then HF fp32) that resume from ``answers_path``.

    ``meta`` (e.g. build and model) is written as the file's first line; a file whose meta differs is refused
    (``ValueError``) rather than mixed with answers of another program.  Adds ``seconds`` per pass (time spent
    in this run) and ``resumed`` (questions taken from the file)."""
    import time

    from .features import load_tokenizer
    from .squad import load_squad, squad_scores

    ds = load_squad(data_path, samples)
    tokenizer = load_tokenizer(tokenizer_dir)
    meta = dict(meta or {}, data=str(Path(data_path).resolve()))
    if answers_path is not None:
        _check_meta(answers_path, meta)
    prior = read_answers(answers_path)
    post = dict(n_best=n_best, max_answer_len=max_answer_len, version_2=ds.version_2,
                null_score_diff_threshold=null_score_diff_threshold)
    result = {"samples": len(ds.questions), "version_2": ds.version_2, "total_questions": ds.total_questions,
              "ref_exact": None, "ref_f1": None, "seconds": {}, "resumed": {}}
    passes = [("program", predict)] + ([("hf_fp32", reference_predict)] if reference_predict is not None else [])
    for name, fn in passes:
        done = {q.id: prior[name][q.id] for q in ds.questions if q.id in prior.get(name, {})}
        t = time.perf_counter()
        answers = stream_pass(fn, tokenizer, ds.questions, batch, name=name, answers_path=answers_path, done=done,
                              progress=progress, source=ds.path, **post)
        result["seconds"][name] = round(time.perf_counter() - t, 2)
        result["resumed"][name] = len(done)
        scores = squad_scores(answers, ds.questions)
        key = "" if name == "program" else "ref_"
        result[key + "exact"], result[key + "f1"] = scores["exact"], scores["f1"]
        for k in ("HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1"):
            if k in scores:
                result[key + k] = scores[k]
    return result


def _check_meta(path, meta: dict) -> None:
    p = Path(path)
    if p.exists() and p.stat().st_size:
        with open(p, encoding="utf-8") as f:
            first = f.readline()
        try:
            have = json.loads(first).get("meta")
        except json.JSONDecodeError:
            have = None
        if have != meta:
            raise ValueError(f"{p}: answers of another run ({have}); this run is {meta}. Delete the file or pass "
                             "another --answers file")
        return
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as f:
        f.write(json.dumps({"meta": meta}) + "\n")
