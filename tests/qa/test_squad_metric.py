"""Official SQuAD normalisation, exact match and F1 on hand-computed cases."""

from __future__ import annotations

import pytest

from runtime.qa import exact_match, f1_score, normalize_answer, squad_scores
from runtime.qa.squad import SquadQuestion


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("The  Quick, brown fox!", "quick brown fox"),  # lower, punctuation, article, spaces
        ("An apple a day", "apple day"),
        ("Theater", "theater"),  # articles only as whole words
        ("the theater", "theater"),
        ("U.S.A.", "usa"),  # punctuation removed, not replaced by a space
        ("rock-n-roll", "rocknroll"),
        ("the\tend\nof  it", "end of it"),
        ("A", ""),
        ("“Hello”", "“hello”"),  # only ASCII punctuation (string.punctuation) goes
        ("Ça, c'est l'été", "ça cest lété"),
        ("$759,900", "759900"),
        ("  ", ""),
    ],
)
def test_normalize_answer(text, normalised):
    assert normalize_answer(text) == normalised


@pytest.mark.parametrize(
    "pred, golds, em, f1",
    [
        ("Denver Broncos", ["Denver Broncos"], 1, 1.0),
        ("denver broncos.", ["Denver Broncos"], 1, 1.0),
        ("the Denver Broncos", ["Denver Broncos"], 1, 1.0),
        # P = 1/1, R = 1/2 -> F1 = 2 * 1 * 0.5 / 1.5 = 2/3
        ("Denver", ["Denver Broncos"], 0, 2 / 3),
        # pred tokens cat sat on mat, gold cat on mat: P = 3/4, R = 3/3 -> F1 = 6/7
        ("the cat sat on the mat", ["a cat on a mat"], 0, 6 / 7),
        # multiset overlap: dog dog cat vs dog cat cat share dog, cat -> P = R = 2/3
        ("dog dog cat", ["dog cat cat"], 0, 2 / 3),
        ("in 1884", ["1884"], 0, 2 / 3),
        # maximum over the gold answers
        ("Broncos", ["Denver Broncos", "Broncos"], 1, 1.0),
        ("Denver", ["Broncos", "Denver Broncos"], 0, 2 / 3),
        ("Carolina Panthers", ["Denver Broncos"], 0, 0.0),
        # empty prediction vs a real answer
        ("", ["Denver Broncos"], 0, 0.0),
        # no-answer (v2): no gold answers -> only "" is right
        ("", [], 1, 1.0),
        ("Paris", [], 0, 0.0),
        ("the", [], 1, 1.0),  # normalises to ""
        # golds that normalise to "" are dropped (official v2 rule)
        ("", ["the"], 1, 1.0),
        ("x", ["a", "x"], 1, 1.0),
    ],
)
def test_exact_and_f1(pred, golds, em, f1):
    assert exact_match(pred, golds) == em
    assert f1_score(pred, golds) == pytest.approx(f1)


def _q(i, answers, impossible=False):
    return SquadQuestion(str(i), "q?", "ctx", tuple(answers), impossible)


def test_squad_scores_average_in_percent():
    qs = [_q(0, ["Paris"]), _q(1, ["Denver Broncos"]), _q(2, ["blue"]), _q(3, [], True)]
    preds = ["paris", "Denver", "red", ""]
    # EM 1, 0, 0, 1 -> 50 %; F1 1, 2/3, 0, 1 -> 66.67 %
    out = squad_scores(preds, qs)
    assert out["exact"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0 + 1) / 4)
    assert out["total"] == 4
    assert out["HasAns_exact"] == pytest.approx(100 / 3) and out["NoAns_exact"] == 100.0
    # predictions by id give the same
    assert squad_scores({q.id: p for q, p in zip(qs, preds)}, qs)["f1"] == out["f1"]
    with pytest.raises(ValueError):
        squad_scores(preds[:3], qs)
