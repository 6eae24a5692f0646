"""Start/end logits of an example's windows -> answer span (text and character offsets).

Two styles, both working on the windows of ``runtime.qa.features``:

* ``pipeline_answers`` reproduces ``transformers``' ``QuestionAnsweringPipeline.postprocess``
  (transformers 4.x, the last versions that shipped it; v5 removed the task): tokens that
  are not context (question, special tokens, padding; ``[CLS]`` excepted) are set to -10000
  before a per-window softmax, ``[CLS]`` is then zeroed, span scores are
  ``p_start * p_end`` over spans of at most ``max_answer_len`` tokens, the best
  ``2 * top_k + 10`` spans of each window are aligned to whole words and mapped to context
  characters, equal answers (case-insensitively) found in several windows add their scores,
  and the ``top_k`` best are returned. Defaults are the pipeline's (``top_k=1``,
  ``max_answer_len=15``).
* ``squad_answer`` is the SQuAD evaluation style of HF's ``run_qa.py``
  (``postprocess_qa_predictions``), which the shipped minilm model's README scores use:
  the ``n_best`` (20) highest start and end logits of each window, spans inside the context
  only, end >= start, at most ``max_answer_len`` (30) tokens, score = start logit + end
  logit, best across windows. For SQuAD v2 the null score is the lowest
  ``start_logit[CLS] + end_logit[CLS]`` over the windows and the prediction is empty when
  ``null_score - best_span_score > null_score_diff_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .features import Window


@dataclass
class Answer:
    """An answer span: ``context[start:end] == text``; ``score`` as the style defines it."""

    text: str
    start: int
    end: int
    score: float

    def as_dict(self) -> dict:
        return {"score": self.score, "start": self.start, "end": self.end, "answer": self.text}


@dataclass
class SquadPrediction:
    """Result of ``squad_answer``.

    ``text``/``start``/``end`` are the prediction ("" and 0/0 for a null prediction);
    ``span_text``/``span_start``/``span_end``/``span_score`` the best non-null span (score =
    start + end logit; ``-inf`` and "" when no span is valid); ``null_score`` the lowest
    ``[CLS]`` start + end logit over the windows; ``score_diff = null_score - span_score``.
    """

    text: str
    start: int
    end: int
    span_text: str
    span_start: int
    span_end: int
    span_score: float
    null_score: float
    score_diff: float
    is_null: bool


# ---------------------------------------------------------------------------------------
# HF QuestionAnsweringPipeline style
# ---------------------------------------------------------------------------------------


def decode_spans(
    start: np.ndarray, end: np.ndarray, topk: int, max_answer_len: int, undesired_tokens: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pipeline's ``decode_spans``: top-k spans by ``p_start * p_end`` (same numpy ops)."""
    if start.ndim == 1:
        start = start[None]
    if end.ndim == 1:
        end = end[None]
    outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))
    # keep end >= start and end - start <= max_answer_len - 1
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    scores_flat = candidates.flatten()
    if topk == 1:
        idx_sort = [np.argmax(scores_flat)]
    elif len(scores_flat) <= topk:
        idx_sort = np.argsort(-scores_flat)
    else:
        idx = np.argpartition(-scores_flat, topk)[0:topk]
        idx_sort = idx[np.argsort(-scores_flat[idx])]
    starts, ends = np.unravel_index(idx_sort, candidates.shape)[1:]
    desired = undesired_tokens.nonzero()
    desired_spans = np.isin(starts, desired) & np.isin(ends, desired)
    starts = starts[desired_spans]
    ends = ends[desired_spans]
    scores = candidates[0, starts, ends]
    return starts, ends, scores


def select_starts_ends(
    start: np.ndarray,
    end: np.ndarray,
    p_mask: np.ndarray,
    attention_mask: np.ndarray | None,
    min_null_score: float = 1000000,
    top_k: int = 1,
    handle_impossible_answer: bool = False,
    max_answer_len: int = 15,
):
    """The pipeline's ``select_starts_ends`` on ``[1, seq]`` float32 logits of one window."""
    undesired_tokens = np.abs(np.array(p_mask) - 1)
    if attention_mask is not None:
        undesired_tokens = undesired_tokens & attention_mask
    undesired_tokens_mask = undesired_tokens == 0.0
    start = np.where(undesired_tokens_mask, -10000.0, start)
    end = np.where(undesired_tokens_mask, -10000.0, end)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
    start[0, 0] = end[0, 0] = 0.0
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, undesired_tokens)
    return starts, ends, scores, min_null_score


def _word_aligned_chars(window: Window, s: int, e: int, align_to_words: bool) -> tuple[int, int]:
    """The pipeline's ``get_indices`` for a question-first tokenizer (context = sequence 1)."""
    enc = window.encoding
    if align_to_words and enc is not None:
        try:
            start_word = enc.token_to_word(s)
            end_word = enc.token_to_word(e)
            return (
                enc.word_to_chars(start_word, sequence_index=1)[0],
                enc.word_to_chars(end_word, sequence_index=1)[1],
            )
        except Exception:
            pass
    return window.offsets[s][0], window.offsets[e][1]


def _as_logits_2d(x) -> np.ndarray:
    a = x.detach().cpu().float().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=np.float32)
    a = a.astype(np.float32, copy=False)
    return a[None] if a.ndim == 1 else a


def pipeline_answers(
    windows: Sequence[Window],
    start_logits: Sequence,
    end_logits: Sequence,
    context: str,
    *,
    top_k: int = 1,
    max_answer_len: int = 15,
    handle_impossible_answer: bool = False,
    align_to_words: bool = True,
) -> list[Answer]:
    """Best ``top_k`` answers for one example, exactly as HF's QA pipeline postprocesses.

    ``windows`` are the example's windows in order and ``start_logits[i]``/``end_logits[i]``
    the model outputs for ``windows[i]`` (each ``[seq]`` or ``[1, seq]``; numpy or torch).
    Scores are probabilities as the pipeline reports them.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if max_answer_len < 1:
        raise ValueError(f"max_answer_len must be >= 1, got {max_answer_len}")
    if not (len(windows) == len(start_logits) == len(end_logits)):
        raise ValueError("need one start and one end logit vector per window")
    min_null_score = 1000000.0
    answers: list[dict] = []
    for window, s_logits, e_logits in zip(windows, start_logits, end_logits):
        start_ = _as_logits_2d(s_logits)
        end_ = _as_logits_2d(e_logits)
        pre_topk = top_k * 2 + 10 if align_to_words else top_k
        starts, ends, scores, min_null_score = select_starts_ends(
            start_,
            end_,
            window.p_mask,
            window.attention_mask[None],
            min_null_score,
            pre_topk,
            handle_impossible_answer,
            max_answer_len,
        )
        for s, e, score in zip(starts, ends, scores):
            start_index, end_index = _word_aligned_chars(window, int(s), int(e), align_to_words)
            target = context[start_index:end_index]
            existing = next((a for a in answers if a["answer"].lower() == target.lower()), None)
            if existing:
                existing["score"] += score.item()
            else:
                answers.append({"score": score.item(), "start": start_index, "end": end_index, "answer": target})
    if handle_impossible_answer:
        answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
    answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
    return [Answer(a["answer"], int(a["start"]), int(a["end"]), float(a["score"])) for a in answers]


# ---------------------------------------------------------------------------------------
# SQuAD evaluation style (HF run_qa.py postprocess_qa_predictions)
# ---------------------------------------------------------------------------------------


def squad_answer(
    windows: Sequence[Window],
    start_logits: Sequence,
    end_logits: Sequence,
    context: str,
    *,
    n_best: int = 20,
    max_answer_len: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> SquadPrediction:
    """Best span of one example, SQuAD-evaluation style (see the module docstring).

    Without ``version_2`` the best valid span is always predicted (or "" if no span of the
    ``n_best x n_best`` candidates is valid; run_qa.py would print the word "empty" there).
    """
    if n_best < 1:
        raise ValueError(f"n_best must be >= 1, got {n_best}")
    if max_answer_len < 1:
        raise ValueError(f"max_answer_len must be >= 1, got {max_answer_len}")
    if not (len(windows) == len(start_logits) == len(end_logits)):
        raise ValueError("need one start and one end logit vector per window")
    best = None  # (score, start_char, end_char)
    null_score = None
    for window, s_logits, e_logits in zip(windows, start_logits, end_logits):
        sl = _as_logits_2d(s_logits)[0]
        el = _as_logits_2d(e_logits)[0]
        feature_null = sl[0] + el[0]
        if null_score is None or null_score > feature_null:
            null_score = feature_null
        offsets = window.context_offsets()
        n = len(offsets)
        start_indexes = np.argsort(sl)[-1 : -n_best - 1 : -1].tolist()
        end_indexes = np.argsort(el)[-1 : -n_best - 1 : -1].tolist()
        for si in start_indexes:
            for ei in end_indexes:
                if si >= n or ei >= n or offsets[si] is None or offsets[ei] is None:
                    continue
                if ei < si or ei - si + 1 > max_answer_len:
                    continue
                score = sl[si] + el[ei]
                # first of equal scores wins, as a stable sort in run_qa.py does
                if best is None or score > best[0]:
                    best = (score, offsets[si][0], offsets[ei][1], sl[si], el[ei])
    null_f = float(null_score) if null_score is not None else float("inf")
    if best is None:
        span_text, span_start, span_end, span_score = "", 0, 0, float("-inf")
        # run_qa.py's placeholder prediction has start/end logits 0
        diff = null_f - 0.0
    else:
        span_score = float(best[0])
        span_start, span_end = int(best[1]), int(best[2])
        span_text = context[span_start:span_end]
        # same float32 arithmetic as run_qa.py: null - start_logit - end_logit
        diff = float(null_score - best[3] - best[4])
    is_null = bool(version_2 and diff > null_score_diff_threshold) or best is None
    if is_null:
        text, start, end = "", 0, 0
    else:
        text, start, end = span_text, span_start, span_end
    return SquadPrediction(
        text=text,
        start=start,
        end=end,
        span_text=span_text,
        span_start=span_start,
        span_end=span_end,
        span_score=span_score,
        null_score=null_f,
        score_diff=diff,
        is_null=is_null,
    )
