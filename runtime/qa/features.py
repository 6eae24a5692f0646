"""Question/context pairs -> fixed-length BERT windows, as Hugging Face's QA pipeline makes them.

A context too long for one window is split into several overlapping windows with a document
stride, exactly as ``transformers``' question-answering pipeline (and its SQuAD example
scripts) do: the question comes first, only the context is truncated
(``truncation="only_second"``), ``return_overflowing_tokens=True`` gives the extra windows and
``stride`` is the number of context tokens two consecutive windows share. Every window keeps
the tokenizer's character offsets, its sequence ids and a context mask, so that
post-processing can map token spans back to characters of the context.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import QAInputError

DEFAULT_MAX_SEQ_LEN = 384
DEFAULT_DOC_STRIDE = 128


def doc_stride_for(seq_len: int) -> int:
    """The window overlap for a build's length: HF's 128 at 384 tokens and above, a third of the window below
    (a 128-token window keeps 42 shared tokens and room for the question)."""
    return min(DEFAULT_DOC_STRIDE, seq_len // 3)

#: examples tokenised per call to the fast tokenizer
_TOKENIZE_CHUNK = 256


@dataclass(frozen=True)
class QAExample:
    """One question about one context (``id`` is optional, used by SQuAD evaluation)."""

    question: str
    context: str
    id: str | None = None


@dataclass
class Window:
    """One model input window of one example.

    ``input_ids``, ``token_type_ids`` and ``attention_mask`` are int64 arrays of the window
    length (``max_seq_len`` when padded, the default). ``offsets[i]`` is the tokenizer's
    ``(start_char, end_char)`` of token ``i``; for context tokens it indexes the context string.
    ``context_mask[i]`` is true for context tokens only (sequence id 1). ``p_mask`` is the HF
    pipeline's mask: 1 for tokens that cannot be in an answer (question, special tokens,
    padding) except ``[CLS]``, which it keeps at 0. ``encoding`` is the ``tokenizers.Encoding``
    of the window, used for the pipeline's word alignment.
    """

    example_index: int
    window_index: int
    input_ids: np.ndarray
    token_type_ids: np.ndarray
    attention_mask: np.ndarray
    offsets: list[tuple[int, int]]
    sequence_ids: list[int | None]
    context_mask: np.ndarray
    p_mask: np.ndarray
    encoding: Any = field(repr=False, default=None)

    def context_offsets(self) -> list[tuple[int, int] | None]:
        """Offsets with ``None`` for every token outside the context (SQuAD-script style)."""
        return [o if m else None for o, m in zip(self.offsets, self.context_mask)]


@functools.lru_cache(maxsize=8)
def _load_tokenizer_cached(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def load_tokenizer(tokenizer_dir: str | Path):
    """Load the fast (Rust ``tokenizers``) tokenizer saved in a local model directory.

    Never touches the network. Raises ``QAInputError`` when the directory does not hold a
    tokenizer.
    """
    p = Path(tokenizer_dir)
    if not p.is_dir():
        raise QAInputError(f"{p}: no such model directory; point --model at a local model directory")
    if not any((p / name).is_file() for name in ("tokenizer.json", "vocab.txt")):
        raise QAInputError(
            f"{p}: holds no tokenizer (tokenizer.json or vocab.txt); "
            "point --model at a directory saved with save_pretrained()"
        )
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        f = p / name
        if (f.exists() or f.is_symlink()) and not f.is_file():   # a FIFO would block the tokenizer's reader
            raise QAInputError(f"{f}: is not a regular file; replace it with the file save_pretrained() writes")
    try:
        tok = _load_tokenizer_cached(str(p.resolve()))
    except Exception as exc:  # transformers / tokenizers raise KeyError, TypeError, Exception on a file of the wrong schema
        what = f"{exc.__class__.__name__}: {' '.join(str(exc).split())[:160]}"
        raise QAInputError(f"{p}: cannot load its tokenizer ({what}); tokenizer.json must be the file a Hugging Face "
                           f"fast tokenizer's save_pretrained() writes") from None
    if not getattr(tok, "is_fast", False):
        raise QAInputError(f"{p}: its tokenizer is not a fast tokenizer; save tokenizer.json with it")
    if tok.padding_side != "right":
        raise QAInputError(f"{p}: tokenizer pads on the {tok.padding_side}; only right padding is supported")
    return tok


def check_window_params(max_seq_len: int, doc_stride: int) -> None:
    if not isinstance(max_seq_len, int) or max_seq_len < 8:
        raise ValueError(f"max_seq_len must be an int >= 8, got {max_seq_len!r}")
    if not isinstance(doc_stride, int) or doc_stride < 0 or doc_stride >= max_seq_len:
        raise ValueError(f"doc_stride must be an int in [0, max_seq_len), got {doc_stride!r}")


def max_question_tokens(tokenizer, max_seq_len: int, doc_stride: int) -> int:
    """Longest question (in tokens) that still leaves more than ``doc_stride`` context tokens."""
    return max_seq_len - tokenizer.num_special_tokens_to_add(pair=True) - doc_stride - 1


def make_windows(
    tokenizer,
    examples: Sequence[QAExample] | Sequence[tuple[str, str]],
    max_seq_len: int = DEFAULT_MAX_SEQ_LEN,
    doc_stride: int = DEFAULT_DOC_STRIDE,
    *,
    padding: str | bool = "max_length",
    labels: Sequence[str] | None = None,
    source: str | Path | None = None,
) -> list[Window]:
    """Tokenise ``examples`` into windows, in example order (windows of one example adjacent).

    ``padding="max_length"`` (default) pads every window to ``max_seq_len`` as a fixed-shape
    program needs; ``padding="do_not_pad"`` reproduces the HF pipeline's default unpadded
    windows. ``labels``/``source`` only name the offending element in error messages (e.g.
    ``"[3]"`` and the input file). A question so long that a window has no room for more
    than ``doc_stride`` context tokens raises ``QAInputError`` (the tokenizer would abort).
    """
    check_window_params(max_seq_len, doc_stride)
    exs = [e if isinstance(e, QAExample) else QAExample(str(e[0]), str(e[1])) for e in examples]
    limit = max_question_tokens(tokenizer, max_seq_len, doc_stride)
    prefix = f"{source}: " if source is not None else ""
    q_lens = [len(ids) for ids in tokenizer([e.question for e in exs], add_special_tokens=False)["input_ids"]] if exs else []
    for i, (e, n) in enumerate(zip(exs, q_lens)):
        label = labels[i] if labels is not None else f"example {i}"
        if n > limit:
            raise QAInputError(
                f"{prefix}{label}: question is {n} tokens; with {max_seq_len}-token windows and "
                f"stride {doc_stride} it must be at most {limit} tokens; shorten the question"
            )
        if not e.context.strip():
            raise QAInputError(f"{prefix}{label}: context is empty; give the text to answer from")

    windows: list[Window] = []
    for lo in range(0, len(exs), _TOKENIZE_CHUNK):
        chunk = exs[lo : lo + _TOKENIZE_CHUNK]
        enc = tokenizer(
            [e.question for e in chunk],
            [e.context for e in chunk],
            padding=padding,
            truncation="only_second",
            max_length=max_seq_len,
            stride=doc_stride,
            return_token_type_ids=True,
            return_attention_mask=True,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        sample_map = enc["overflow_to_sample_mapping"]
        cls_id = tokenizer.cls_token_id
        counts: dict[int, int] = {}
        for w in range(len(enc["input_ids"])):
            ex_idx = lo + int(sample_map[w])
            seq_ids = enc.sequence_ids(w)
            ids = np.asarray(enc["input_ids"][w], dtype=np.int64)
            ctx = np.array([s == 1 for s in seq_ids], dtype=bool)
            # HF pipeline p_mask: 1 = cannot be in the answer; [CLS] kept at 0.
            p_mask = (~ctx).astype(np.int64)
            if cls_id is not None:
                p_mask[ids == cls_id] = 0
            k = counts.get(ex_idx, 0)
            counts[ex_idx] = k + 1
            windows.append(
                Window(
                    example_index=ex_idx,
                    window_index=k,
                    input_ids=ids,
                    token_type_ids=np.asarray(enc["token_type_ids"][w], dtype=np.int64),
                    attention_mask=np.asarray(enc["attention_mask"][w], dtype=np.int64),
                    offsets=[tuple(o) for o in enc["offset_mapping"][w]],
                    sequence_ids=list(seq_ids),
                    context_mask=ctx,
                    p_mask=p_mask,
                    encoding=enc.encodings[w],
                )
            )
    return windows


def group_windows(windows: Iterable[Window]) -> dict[int, list[int]]:
    """``example_index -> [positions in windows]``, in window order."""
    groups: dict[int, list[int]] = {}
    for pos, w in enumerate(windows):
        groups.setdefault(w.example_index, []).append(pos)
    return groups
