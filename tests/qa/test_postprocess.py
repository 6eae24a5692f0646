"""Hand-checked post-processing cases (logits written by hand) for both styles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.qa import make_windows, pipeline_answers, squad_answer

CONTEXT = "Alice met Bob in Paris on Monday."
# [CLS] who ? [SEP] alice met bob in paris on monday . [SEP] [PAD]...
#   0    1  2   3     4    5   6   7   8    9    10   11   12   13..31
ALICE, MET, BOB, IN, PARIS, ON, MONDAY, DOT = range(4, 12)


@pytest.fixture(scope="module")
def window(tokenizer):
    (w,) = make_windows(tokenizer, [("Who?", CONTEXT)], 32, 8)
    assert w.encoding.tokens[4:12] == ["alice", "met", "bob", "in", "paris", "on", "monday", "."]
    assert w.context_mask.tolist() == [False] * 4 + [True] * 8 + [False] * 20
    return w


def L(pairs, n=32):
    a = np.zeros(n, dtype=np.float32)
    for i, v in pairs:
        a[i] = v
    return a


# ---------------------------------------------------------------- pipeline style


def test_pipeline_score_is_product_of_context_softmaxes(window):
    s = L([(PARIS, 5.0), (1, 50.0), (20, 50.0)])  # huge logits on a question token and padding
    e = L([(PARIS, 5.0), (2, 50.0)])
    (ans,) = pipeline_answers([window], [s], [e], CONTEXT)
    assert (ans.text, ans.start, ans.end) == ("Paris", 17, 22)
    # softmax over [CLS] + 8 context tokens only (question/padding masked to -10000):
    # p = e^5 / (e^5 + 8), score = p * p = 0.90032...
    p = math.exp(5) / (math.exp(5) + 8)
    assert ans.score == pytest.approx(p * p, rel=1e-6)
    assert ans.score == pytest.approx(0.900322, abs=1e-6)


def test_pipeline_never_returns_cls_or_reversed_or_too_long(window):
    # [CLS] has the best start and end, but the pipeline zeroes it after the softmax
    s = L([(0, 9.0), (MONDAY, 4.0), (ALICE, 3.0)])
    e = L([(0, 9.0), (BOB, 4.0), (DOT, 1.0)])
    # spans: Monday..Bob is reversed; Alice..Bob (3 tokens) is the best valid one
    (ans,) = pipeline_answers([window], [s], [e], CONTEXT)
    assert ans.text == "Alice met Bob"
    # with at most 2 tokens, Alice..Bob is too long: the best 2-token-or-less span wins
    (ans2,) = pipeline_answers([window], [s], [e], CONTEXT, max_answer_len=2)
    assert (ans2.text, ans2.start, ans2.end) == ("Monday.", 26, 33)


def test_pipeline_top_k_and_impossible(window):
    s = L([(PARIS, 6.0), (BOB, 5.0), (0, 8.0)])
    e = L([(PARIS, 6.0), (BOB, 5.0), (0, 8.0)])
    got = pipeline_answers([window], [s], [e], CONTEXT, top_k=3)
    # span scores go as exp(start + end): Paris 12 > Bob..Paris 11 > Bob 10
    assert [a.text for a in got] == ["Paris", "Bob in Paris", "Bob"]
    assert got[0].score > got[1].score > got[2].score
    # handle_impossible_answer adds the [CLS] score (before zeroing): ([CLS] is most likely here)
    got = pipeline_answers([window], [s], [e], CONTEXT, top_k=2, handle_impossible_answer=True)
    assert (got[0].text, got[0].start, got[0].end) == ("", 0, 0)
    assert got[1].text == "Paris"


def test_pipeline_aligns_to_whole_words(tokenizer):
    context = "Chloroplasts divide by binary fission."
    (w,) = make_windows(tokenizer, [("What?", context)], 32, 8)
    toks = w.encoding.tokens
    first = toks.index("[SEP]") + 1
    assert toks[first].startswith("ch") and toks[first + 1].startswith("##")  # "chloroplasts" is split
    s = L([(first + 1, 8.0)])  # start on the middle of the word
    e = L([(first + 1, 8.0)])
    (aligned,) = pipeline_answers([w], [s], [e], context)
    assert aligned.text == "Chloroplasts"
    (raw,) = pipeline_answers([w], [s], [e], context, align_to_words=False)
    # without alignment: just the subword's characters ("ch ##lor ##op ##last ##s")
    assert (raw.text, raw.start, raw.end) == (context[w.offsets[first + 1][0] : w.offsets[first + 1][1]], 2, 5)
    assert raw.text == "lor"


def test_pipeline_merges_equal_answers_across_windows(tokenizer):
    ctx = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    ws = make_windows(tokenizer, [("Who?", ctx)], 16, 4)
    assert len(ws) == 2 and ws[0].encoding.tokens[11] == "eight" and ws[1].encoding.tokens[4] == "eight"
    # "eight" is in both windows (the stride overlap); each window alone gives it 0.4
    s0, e0 = L([(11, 3.0), (5, 2.5)], 16), L([(11, 3.0), (5, 2.5)], 16)
    s1, e1 = L([(4, 3.0), (10, 3.2)], 16), L([(4, 3.0), (10, 3.2)], 16)
    got = pipeline_answers(ws, [s0, s1], [e0, e1], ctx, top_k=2)
    single0 = pipeline_answers(ws[:1], [s0], [e0], ctx, top_k=5)
    single1 = pipeline_answers(ws[1:], [s1], [e1], ctx, top_k=5)
    eight0 = next(a.score for a in single0 if a.text == "eight")
    eight1 = next(a.score for a in single1 if a.text == "eight")
    fourteen = next(a.score for a in single1 if a.text == "fourteen")
    assert fourteen > eight0 and fourteen > eight1  # alone, each window prefers another answer
    assert [a.text for a in got] == ["eight", "fourteen"]  # summed over windows, "eight" wins
    assert got[0].score == pytest.approx(eight0 + eight1)
    assert (got[0].start, got[0].end) == (34, 39)


# ---------------------------------------------------------------- SQuAD style


def test_squad_best_sum_of_logits_inside_context(window):
    s = L([(1, 20.0), (PARIS, 4.0), (BOB, 3.0)])  # token 1 is the question: never a start
    e = L([(13, 20.0), (PARIS, 2.0), (MONDAY, 2.5)])  # token 13 is padding: never an end
    p = squad_answer([window], [s], [e], CONTEXT)
    # candidates: Paris..Paris 6.0, Paris..Monday 6.5, Bob..Paris 5.0, Bob..Monday 5.5
    assert (p.text, p.start, p.end) == ("Paris on Monday", 17, 32)
    assert p.span_score == pytest.approx(6.5)
    assert p.null_score == pytest.approx(0.0) and not p.is_null


def test_squad_max_answer_len_and_reversed(window):
    s = L([(ALICE, 5.0), (MONDAY, 4.0)])
    e = L([(DOT, 5.0), (MET, 1.0), (ALICE, 0.5)])
    assert squad_answer([window], [s], [e], CONTEXT).text == "Alice met Bob in Paris on Monday."  # 8 tokens
    # at most 3 tokens: Alice..Dot too long, Monday..Dot = 9.0 wins over Alice..Met = 6.0
    p = squad_answer([window], [s], [e], CONTEXT, max_answer_len=3)
    assert p.text == "Monday."
    # at most 1 token: Alice..Alice = 5.5 beats Monday..Monday 4.0 and Dot..Dot 5.0
    p = squad_answer([window], [s], [e], CONTEXT, max_answer_len=1)
    assert (p.text, p.span_score) == ("Alice", 5.5)


def test_squad_n_best_limits_candidates(window):
    # best start Monday, best end Met (reversed); second-best start Alice
    s = L([(MONDAY, 5.0), (ALICE, 4.0)])
    e = L([(MET, 5.0), (IN, 0.5)])
    assert squad_answer([window], [s], [e], CONTEXT, n_best=1).text == ""  # Monday..Met invalid: nothing
    assert squad_answer([window], [s], [e], CONTEXT, n_best=2).text == "Alice met"


def test_squad_v2_null_threshold(window):
    s = L([(0, 6.0), (PARIS, 4.0)])
    e = L([(0, 6.0), (PARIS, 3.0)])
    # null 12 vs span 7: diff 5
    p = squad_answer([window], [s], [e], CONTEXT, version_2=True)
    assert p.is_null and (p.text, p.start, p.end) == ("", 0, 0) and p.span_text == "Paris"
    assert p.score_diff == pytest.approx(5.0)
    assert squad_answer([window], [s], [e], CONTEXT, version_2=True, null_score_diff_threshold=5.5).text == "Paris"
    # v1 ignores the null score
    assert squad_answer([window], [s], [e], CONTEXT).text == "Paris"


def test_squad_across_windows(tokenizer):
    ctx = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    ws = make_windows(tokenizer, [("Who?", ctx)], 16, 4)
    s0, e0 = L([(5, 3.0), (0, 1.0)], 16), L([(6, 3.0), (0, 1.0)], 16)  # "two three" 6.0
    s1, e1 = L([(9, 3.5), (0, -1.0)], 16), L([(10, 3.0), (0, 0.5)], 16)  # "thirteen fourteen" 6.5
    p = squad_answer(ws, [s0, s1], [e0, e1], ctx, version_2=True)
    assert (p.text, p.start, p.end) == ("thirteen fourteen", 63, 80)
    assert p.null_score == pytest.approx(-0.5)  # the lowest [CLS] score over the windows


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-8, 8, width=32), min_size=64, max_size=64), st.integers(1, 8))
def test_squad_with_all_candidates_is_exhaustive_best(window_values, max_len):
    """n_best = window length: the answer is the argmax of start+end over all valid spans."""
    from runtime.qa.features import Window

    n = 32
    ctx_mask = np.array([False] * 4 + [True] * 8 + [False] * 20)
    offsets = [(0, 0)] * n
    starts = [0, 6, 10, 14, 17, 23, 26, 32]
    ends = [5, 9, 13, 16, 22, 25, 32, 33]
    for k in range(8):
        offsets[4 + k] = (starts[k], ends[k])
    w = Window(0, 0, np.zeros(n, np.int64), np.zeros(n, np.int64), np.ones(n, np.int64), offsets,
               [None] + [0] * 3 + [1] * 8 + [None] * 20, ctx_mask, (~ctx_mask).astype(np.int64))
    s = np.array(window_values[:n], dtype=np.float32)
    e = np.array(window_values[n:], dtype=np.float32)
    p = squad_answer([w], [s], [e], CONTEXT, n_best=n, max_answer_len=max_len)
    best = max((s[i] + e[j], i, j) for i in range(4, 12) for j in range(i, min(12, i + max_len)))
    assert p.span_score == pytest.approx(float(best[0]))
    assert CONTEXT[p.start : p.end] == p.text
