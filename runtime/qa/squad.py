"""SQuAD v1.1 / v2.0 files and the official exact-match and F1 metrics.

``load_squad`` validates the file and flattens it to questions in file order. The metrics
follow the official evaluation scripts (``evaluate-v1.1.py`` / ``evaluate-v2.0.py``):

* answers are normalised by lower-casing, removing ASCII punctuation
  (``string.punctuation``), removing the articles ``a``/``an``/``the`` as whole words and
  collapsing whitespace, in that order;
* exact match is 1 when the normalised prediction equals a normalised gold answer;
* F1 is the token-overlap F1 of the normalised texts split on whitespace;
* both take the maximum over the gold answers and are averaged and reported in percent;
* v2.0: gold answers that normalise to "" are dropped and a question with no gold answer
  (``is_impossible``) has the single gold answer "", so an empty prediction scores EM = F1 = 1
  there and any non-empty one 0 (an empty prediction against a real answer scores 0).
"""

from __future__ import annotations

import collections
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from compiler.errors import short

from .errors import QAInputError, a_type, element_error, read_json_file


@dataclass(frozen=True)
class SquadQuestion:
    """One SQuAD question, with its context and gold answers (texts)."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...]
    is_impossible: bool = False
    title: str | None = None


@dataclass
class SquadDataset:
    path: Path
    version: str
    version_2: bool
    questions: list[SquadQuestion]
    total_questions: int


def _require(cond: bool, source, where, problem, fix):
    if not cond:
        raise element_error(source, where, problem, fix)


def _nonempty_str(value: Any, source, where: str, what: str) -> str:
    _require(value is not None, source, where, f"{what} is null", f"give the {what} as a string")
    _require(isinstance(value, str), source, where, f"{what} is {a_type(value)}, not a string", f"give the {what} as a string")
    _require(bool(value.strip()), source, where, f"{what} is empty", f"give the {what} text or remove the entry")
    return value


def parse_squad(obj: Any, source: str | Path = "<squad>") -> tuple[str, bool, list[SquadQuestion]]:
    """Validate a decoded SQuAD JSON document; return ``(version, version_2, questions)``.

    v2 handling is on when the file's ``version`` starts with "v2"/"2" or any question has
    an ``is_impossible`` key.
    """
    _require(isinstance(obj, dict), source, "", f"top level is {a_type(obj)}, not an object",
             'a SQuAD file is {"version": ..., "data": [articles]}')
    _require("data" in obj, source, "", 'missing key "data"', 'a SQuAD file is {"version": ..., "data": [articles]}')
    data = obj["data"]
    _require(isinstance(data, list), source, "data", f"is {a_type(data)}, not an array", "make it an array of articles")
    version = obj.get("version", "")
    _require(isinstance(version, (str, int, float)) and not isinstance(version, bool), source, "version",
             f"is {a_type(version)}", 'give the version as a string such as "1.1" or "v2.0"')
    version = str(version)
    questions: list[SquadQuestion] = []
    any_impossible_key = False
    for ai, article in enumerate(data):
        aw = f"data[{ai}]"
        _require(isinstance(article, dict), source, aw, f"is {a_type(article)}, not an object",
                 'each article is {"title": ..., "paragraphs": [...]}')
        _require("paragraphs" in article, source, aw, 'missing key "paragraphs"', "add the article's paragraphs array")
        title = article.get("title")
        if title is not None:
            _require(isinstance(title, str), source, aw + ".title", f"is {a_type(title)}, not a string", "give the title as a string")
        paragraphs = article["paragraphs"]
        _require(isinstance(paragraphs, list), source, aw + ".paragraphs", f"is {a_type(paragraphs)}, not an array",
                 "make it an array of paragraphs")
        for pi, para in enumerate(paragraphs):
            pw = f"{aw}.paragraphs[{pi}]"
            _require(isinstance(para, dict), source, pw, f"is {a_type(para)}, not an object",
                     'each paragraph is {"context": ..., "qas": [...]}')
            for key in ("context", "qas"):
                _require(key in para, source, pw, f'missing key "{key}"', f'add "{key}" to the paragraph')
            context = _nonempty_str(para["context"], source, pw + ".context", "context")
            qas = para["qas"]
            _require(isinstance(qas, list), source, pw + ".qas", f"is {a_type(qas)}, not an array", "make it an array of questions")
            for qi, qa in enumerate(qas):
                qw = f"{pw}.qas[{qi}]"
                _require(isinstance(qa, dict), source, qw, f"is {a_type(qa)}, not an object",
                         'each question is {"id": ..., "question": ..., "answers": [...]}')
                _require("question" in qa, source, qw, 'missing key "question"', "add the question text")
                question = _nonempty_str(qa["question"], source, qw + ".question", "question")
                qid = qa.get("id", qw)
                _require(isinstance(qid, (str, int)) and not isinstance(qid, bool), source, qw + ".id",
                         f"is {a_type(qid)}", "give the id as a string")
                impossible = False
                if "is_impossible" in qa:
                    any_impossible_key = True
                    impossible = qa["is_impossible"]
                    _require(isinstance(impossible, bool), source, qw + ".is_impossible",
                             f"is {a_type(impossible)}, not true/false", "use true or false")
                answers = qa.get("answers", [] if impossible else None)
                _require(answers is not None, source, qw, 'missing key "answers"',
                         'add "answers": [{"text": ..., "answer_start": ...}] or mark "is_impossible": true')
                _require(isinstance(answers, list), source, qw + ".answers", f"is {a_type(answers)}, not an array",
                         "make it an array of {\"text\", \"answer_start\"} objects")
                texts = []
                for ki, ans in enumerate(answers):
                    kw = f"{qw}.answers[{ki}]"
                    _require(isinstance(ans, dict), source, kw, f"is {a_type(ans)}, not an object",
                             'each answer is {"text": ..., "answer_start": ...}')
                    _require("text" in ans, source, kw, 'missing key "text"', "add the answer text")
                    _require(isinstance(ans["text"], str), source, kw + ".text",
                             f"is {a_type(ans['text'])}, not a string", "give the answer text as a string")
                    if "answer_start" in ans:
                        st = ans["answer_start"]
                        _require(isinstance(st, int) and not isinstance(st, bool) and st >= 0, source,
                                 kw + ".answer_start", f"is {short(st)}, not a non-negative integer",
                                 "give the character offset of the answer in the context")
                    texts.append(ans["text"])
                _require(impossible or any(normalize_answer(t) for t in texts), source, qw + ".answers",
                         "has no non-empty gold answer", 'add an answer or mark the question "is_impossible": true')
                questions.append(SquadQuestion(str(qid), question, context, tuple(texts), impossible, title))
    _require(bool(questions), source, "data", "holds no questions", "add articles with paragraphs and qas")
    version_2 = version.lower().lstrip("v").startswith("2") or any_impossible_key
    return version, version_2, questions


def load_squad(path: str | Path, samples: int | None = None) -> SquadDataset:
    """Read and validate a SQuAD v1.1/v2.0 file; keep the first ``samples`` questions."""
    if samples is not None and (not isinstance(samples, int) or isinstance(samples, bool) or samples < 1):
        raise QAInputError(f"{path}: --samples must be a positive integer, got {samples!r}")
    p = Path(path)
    obj = read_json_file(p)
    version, version_2, questions = parse_squad(obj, p)
    total = len(questions)
    if samples is not None:
        questions = questions[:samples]
    return SquadDataset(p, version, version_2, questions, total)


# ---------------------------------------------------------------------------------------
# Official metric
# ---------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (official SQuAD)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


def compute_exact(gold: str, pred: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(pred))


def compute_f1(gold: str, pred: str) -> float:
    gold_toks = _tokens(gold)
    pred_toks = _tokens(pred)
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        # if either is no-answer, F1 is 1 if they agree, 0 otherwise
        return float(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_toks)
    recall = num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def gold_answers(answers: Sequence[str]) -> list[str]:
    """Official v2 rule: drop golds that normalise to ""; none left means no-answer ([""])."""
    golds = [a for a in answers if normalize_answer(a)]
    return golds or [""]


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """Max exact match (0 or 1) of ``prediction`` over the gold ``answers``."""
    return float(max(compute_exact(g, prediction) for g in gold_answers(answers)))


def f1_score(prediction: str, answers: Sequence[str]) -> float:
    """Max token F1 (0..1) of ``prediction`` over the gold ``answers``."""
    return max(compute_f1(g, prediction) for g in gold_answers(answers))


def squad_scores(predictions: Mapping[str, str] | Sequence[str], questions: Sequence[SquadQuestion]) -> dict:
    """``{"exact", "f1", "total"}`` in percent; predictions by question id or in order.

    With unanswerable questions present, also ``HasAns_*``/``NoAns_*`` breakdowns.
    """
    if isinstance(predictions, Mapping):
        preds = [predictions[q.id] for q in questions]
    else:
        preds = list(predictions)
        if len(preds) != len(questions):
            raise ValueError(f"{len(preds)} predictions for {len(questions)} questions")
    if not questions:
        raise ValueError("no questions to score")
    ems = [exact_match(p, q.answers) for p, q in zip(preds, questions)]
    f1s = [f1_score(p, q.answers) for p, q in zip(preds, questions)]
    out = {"exact": 100.0 * sum(ems) / len(ems), "f1": 100.0 * sum(f1s) / len(f1s), "total": len(ems)}
    has = [i for i, q in enumerate(questions) if not q.is_impossible]
    no = [i for i, q in enumerate(questions) if q.is_impossible]
    if no:
        for name, idx in (("HasAns", has), ("NoAns", no)):
            if idx:
                out[f"{name}_exact"] = 100.0 * sum(ems[i] for i in idx) / len(idx)
                out[f"{name}_f1"] = 100.0 * sum(f1s[i] for i in idx) / len(idx)
                out[f"{name}_total"] = len(idx)
    return out
