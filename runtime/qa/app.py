"""Question answering with a compiled BERT program: the demo and SQuAD evaluation.

The compiled program is a black box ``predict(input_ids, token_type_ids, attention_mask) ->
(start_logits, end_logits)`` taking int64 torch tensors ``[batch, seq_len]`` (batch fixed by
the build) and returning float tensors ``[batch, seq_len]``. Windows are fed to it in
successive batches; a short final batch is padded with copies of its last window, whose
outputs are dropped.

Demo input file (UTF-8 JSON), either

* a list of objects ``{"question": str, "context": str}`` (the original Tenstorrent demo's
  ``input_data.json`` schema; extra keys are ignored), or
* an object ``{"inputs": [that list], ...}``; other top-level keys (e.g. ``"source"``,
  ``"license"``) are free-form metadata.

Question and context must be non-empty strings, and there must be exactly ``batch`` items.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import NonFiniteLogits, QAInputError, a_type, element_error, read_json_file
from .features import DEFAULT_MAX_SEQ_LEN, QAExample, doc_stride_for, Window, group_windows, load_tokenizer, make_windows
from .postprocess import Answer, pipeline_answers, squad_answer
from .squad import load_squad, squad_scores

Predict = Callable[..., Any]

_REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = _REPO_ROOT / "models" / "minilm-l6-squad1"
DEFAULT_INPUTS = Path(__file__).resolve().parents[1] / "data" / "input_data.json"


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------


def parse_demo_inputs(obj: Any, source: str | Path = "<inputs>") -> list[QAExample]:
    """Validate a decoded demo input document (see the module docstring for the schema)."""
    prefix = ""
    if isinstance(obj, dict):
        if "inputs" not in obj:
            raise element_error(source, "", 'object without key "inputs"',
                                'give a list of {"question", "context"} objects or {"inputs": [...]}')
        obj = obj["inputs"]
        prefix = "inputs"
    if not isinstance(obj, list):
        raise element_error(source, prefix, f"is {a_type(obj)}, not an array",
                            'give a list of {"question": ..., "context": ...} objects')
    if not obj:
        raise element_error(source, prefix, "holds no inputs", 'add {"question": ..., "context": ...} objects')
    examples = []
    for i, item in enumerate(obj):
        where = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            raise element_error(source, where, f"is {a_type(item)}, not an object",
                                'each input is {"question": ..., "context": ...}')
        values = {}
        for key in ("question", "context"):
            if key not in item:
                raise element_error(source, where, f'missing key "{key}"', f'add "{key}": "..." to the input')
            v = item[key]
            if not isinstance(v, str):
                raise element_error(source, f"{where}.{key}", f"is {a_type(v)}, not a string",
                                    f"give the {key} as a string")
            if not v.strip():
                raise element_error(source, f"{where}.{key}", f"{key} is empty", f"give the {key} text")
            values[key] = v
        ident = item.get("id")
        examples.append(QAExample(values["question"], values["context"], None if ident is None else str(ident)))
    return examples


def load_demo_inputs(path: str | Path) -> list[QAExample]:
    """Read and validate a demo input JSON file."""
    return parse_demo_inputs(read_json_file(path), Path(path))


# ---------------------------------------------------------------------------------------
# running windows through a predict callable
# ---------------------------------------------------------------------------------------


def _to_numpy_logits(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().to("cpu").float().numpy()
    return np.asarray(x, dtype=np.float32)


def run_windows(
    predict: Predict,
    windows: Sequence[Window],
    batch: int,
    *,
    progress: bool = False,
    desc: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run all ``windows`` through ``predict`` in batches of ``batch``; return float32
    ``(start_logits, end_logits)`` of shape ``[len(windows), seq_len]``."""
    import torch

    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if not windows:
        raise ValueError("no windows to run")
    seq_len = len(windows[0].input_ids)
    if any(len(w.input_ids) != seq_len for w in windows):
        raise ValueError("windows must all have the same length (tokenise with padding='max_length')")
    n = len(windows)
    starts = np.empty((n, seq_len), dtype=np.float32)
    ends = np.empty((n, seq_len), dtype=np.float32)
    batches = range(0, n, batch)
    if progress:
        from ..progress import progress as bar

        batches = bar(batches, desc=desc, unit="batch", total=(n + batch - 1) // batch)
    for lo in batches:
        chunk = list(windows[lo : lo + batch])
        real = len(chunk)
        chunk += [chunk[-1]] * (batch - real)  # pad the short final batch
        ids = torch.from_numpy(np.stack([w.input_ids for w in chunk]))
        tts = torch.from_numpy(np.stack([w.token_type_ids for w in chunk]))
        am = torch.from_numpy(np.stack([w.attention_mask for w in chunk]))
        out = predict(ids, tts, am)
        if hasattr(out, "start_logits"):
            s, e = out.start_logits, out.end_logits
        else:
            try:
                s, e = out[0], out[1]
            except (TypeError, IndexError, KeyError) as exc:
                raise ValueError("predict must return (start_logits, end_logits)") from exc
        s = _to_numpy_logits(s)
        e = _to_numpy_logits(e)
        for name, a in (("start_logits", s), ("end_logits", e)):
            if a.shape != (batch, seq_len):
                raise ValueError(f"predict returned {name} of shape {tuple(a.shape)}, expected {(batch, seq_len)}")
            if not np.isfinite(a[:real]).all():
                raise NonFiniteLogits(f"predict returned non-finite {name} (NaN or inf) for windows {lo}..{lo + real - 1}")
        starts[lo : lo + real] = s[:real]
        ends[lo : lo + real] = e[:real]
    return starts, ends


def answer_examples(
    predict: Predict,
    tokenizer,
    examples: Sequence[QAExample],
    batch: int,
    seq_len: int = DEFAULT_MAX_SEQ_LEN,
    *,
    doc_stride: int | None = None,
    top_k: int = 1,
    max_answer_len: int = 15,
    source: str | Path | None = None,
    labels: Sequence[str] | None = None,
) -> list[Answer]:
    """Answer each example with HF-pipeline post-processing (best span across its windows)."""
    doc_stride = doc_stride_for(seq_len) if doc_stride is None else doc_stride
    windows = make_windows(tokenizer, examples, seq_len, doc_stride, labels=labels, source=source)
    starts, ends = run_windows(predict, windows, batch)
    answers = []
    groups = group_windows(windows)
    for i, ex in enumerate(examples):
        pos = groups[i]
        best = pipeline_answers([windows[p] for p in pos], starts[pos], ends[pos], ex.context,
                                top_k=top_k, max_answer_len=max_answer_len)
        answers.append(best[0] if best else Answer("", 0, 0, 0.0))
    return answers


# ---------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------


def run_demo(
    predict: Predict,
    tokenizer_dir: str | Path,
    inputs_path: str | Path | None,
    batch: int,
    seq_len: int = DEFAULT_MAX_SEQ_LEN,
    *,
    doc_stride: int | None = None,
    max_answer_len: int = 15,
) -> list[tuple[str, str]]:
    """Answer the questions of a demo input file; return ``[(question, answer_text)]``.

    ``inputs_path=None`` uses the shipped ``runtime/data/input_data.json``. The file must
    hold exactly ``batch`` inputs (``QAInputError`` naming both counts otherwise). Contexts
    longer than one window are split with ``doc_stride``; all windows run in successive
    batches and the best span across an example's windows wins, as in HF's QA pipeline
    (whose defaults, ``top_k=1`` and ``max_answer_len=15``, are used).
    """
    path = Path(inputs_path) if inputs_path is not None else DEFAULT_INPUTS
    examples = load_demo_inputs(path)
    if len(examples) != batch:
        raise QAInputError(
            f"{path}: holds {len(examples)} question/context pairs but the build's batch is {batch}; "
            f"give exactly {batch} pairs"
        )
    tokenizer = load_tokenizer(tokenizer_dir)
    answers = answer_examples(predict, tokenizer, examples, batch, seq_len, doc_stride=doc_stride,
                              max_answer_len=max_answer_len, source=path,
                              labels=[f"[{i}]" for i in range(len(examples))])
    return [(ex.question, a.text) for ex, a in zip(examples, answers)]


# ---------------------------------------------------------------------------------------
# SQuAD
# ---------------------------------------------------------------------------------------


def squad_predictions(
    starts: np.ndarray,
    ends: np.ndarray,
    windows: Sequence[Window],
    questions,
    *,
    n_best: int = 20,
    max_answer_len: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> list[str]:
    """SQuAD-style predicted texts (one per question) from the logits of all windows."""
    groups = group_windows(windows)
    preds = []
    for i, q in enumerate(questions):
        pos = groups[i]
        p = squad_answer([windows[j] for j in pos], starts[pos], ends[pos], q.context, n_best=n_best,
                         max_answer_len=max_answer_len, version_2=version_2,
                         null_score_diff_threshold=null_score_diff_threshold)
        preds.append(p.text)
    return preds


def run_squad(
    predict: Predict,
    tokenizer_dir: str | Path,
    data_path: str | Path,
    batch: int,
    samples: int | None = None,
    reference_predict: Predict | None = None,
    progress: bool = True,
    *,
    seq_len: int = DEFAULT_MAX_SEQ_LEN,
    doc_stride: int | None = None,
    n_best: int = 20,
    max_answer_len: int = 30,
    null_score_diff_threshold: float = 0.0,
    return_predictions: bool = False,
) -> dict:
    """Evaluate on the first ``samples`` questions (all if None) of a SQuAD v1.1/v2.0 file.

    Returns ``{"exact", "f1", "ref_exact", "ref_f1", "samples", ...}`` (percent; the
    ``ref_*`` keys are None without ``reference_predict``), plus ``windows`` (count),
    ``version_2``, ``total_questions`` and, for v2 data, ``HasAns_*``/``NoAns_*``; with
    ``return_predictions`` also the predicted texts as ``predictions``/``ref_predictions``.
    Both predicts see the very same windows and batches. Raises ``QAInputError`` on a bad
    file.
    """
    ds = load_squad(data_path, samples)
    tokenizer = load_tokenizer(tokenizer_dir)
    examples = [QAExample(q.question.lstrip(), q.context, q.id) for q in ds.questions]
    labels = [f"question {q.id}" for q in ds.questions]
    doc_stride = doc_stride_for(seq_len) if doc_stride is None else doc_stride
    windows = make_windows(tokenizer, examples, seq_len, doc_stride, labels=labels, source=ds.path)
    kw = dict(n_best=n_best, max_answer_len=max_answer_len, version_2=ds.version_2,
              null_score_diff_threshold=null_score_diff_threshold)
    starts, ends = run_windows(predict, windows, batch, progress=progress, desc="squad: program")
    preds = squad_predictions(starts, ends, windows, ds.questions, **kw)
    scores = squad_scores(preds, ds.questions)
    result = {
        "exact": scores["exact"],
        "f1": scores["f1"],
        "ref_exact": None,
        "ref_f1": None,
        "samples": len(ds.questions),
        "windows": len(windows),
        "version_2": ds.version_2,
        "total_questions": ds.total_questions,
    }
    if return_predictions:
        result["predictions"] = preds
        result["ref_predictions"] = None
    for k in ("HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1"):
        if k in scores:
            result[k] = scores[k]
    if reference_predict is not None:
        rs, re_ = run_windows(reference_predict, windows, batch, progress=progress, desc="squad: HF fp32")
        ref_preds = squad_predictions(rs, re_, windows, ds.questions, **kw)
        ref = squad_scores(ref_preds, ds.questions)
        result["ref_exact"] = ref["exact"]
        result["ref_f1"] = ref["f1"]
        if return_predictions:
            result["ref_predictions"] = ref_preds
    return result


# ---------------------------------------------------------------------------------------
# HF reference
# ---------------------------------------------------------------------------------------


def hf_reference_predict(model_dir: str | Path = DEFAULT_MODEL_DIR) -> Callable:
    """A predict callable running HF ``BertForQuestionAnswering`` in fp32, eager, on CPU.

    Loads only from the local directory (never the hub). Raises ``QAInputError`` when the
    directory does not hold a model.
    """
    import torch
    from transformers import BertForQuestionAnswering

    p = Path(model_dir)
    if not (p / "config.json").is_file():
        raise QAInputError(f"{p}: no config.json here; point --model at a local model directory")
    from transformers.utils import logging as hf_logging

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar in CLI output
    try:
        model = BertForQuestionAnswering.from_pretrained(
            str(p), dtype=torch.float32, local_files_only=True, attn_implementation="eager"
        )
    except (OSError, ValueError) as exc:
        raise QAInputError(f"{p}: cannot load the model ({' '.join(str(exc).split())[:200]})") from exc
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    model.eval()

    one_segment = model.config.type_vocab_size == 1   # no token type 1 to look up: every token is type 0

    def predict(input_ids, token_type_ids, attention_mask):
        if one_segment:
            token_type_ids = torch.zeros_like(torch.as_tensor(token_type_ids))
        with torch.inference_mode():
            out = model(
                input_ids=torch.as_tensor(input_ids, dtype=torch.long),
                token_type_ids=torch.as_tensor(token_type_ids, dtype=torch.long),
                attention_mask=torch.as_tensor(attention_mask, dtype=torch.long),
            )
        return out.start_logits.float(), out.end_logits.float()

    predict.model = model  # type: ignore[attr-defined]
    return predict
