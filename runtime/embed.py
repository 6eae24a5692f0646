"""Sentence embeddings with a compiled encoder: tokenise, run in fixed-size batches, cosine similarity.

Inputs file (UTF-8 JSON): a list of non-empty strings, or {"sentences": [...]}. Any number of sentences:
they run in batches of the build's batch size, the last one padded with empty sentences whose outputs
are dropped; each sentence is truncated to the build's sequence length, as sentence-transformers truncates
to its max_seq_length.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import torch

from compiler.errors import UserError

DEFAULT_SENTENCES = Path(__file__).resolve().parent / "data" / "embed_sentences.json"


def load_sentences(path: str | Path | None) -> list[str]:
    path = Path(path) if path is not None else DEFAULT_SENTENCES
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"inputs file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e.__class__.__name__}; give a UTF-8 JSON list of sentences") from None
    if isinstance(data, dict):
        data = data.get("sentences")
    if not isinstance(data, list) or not data:
        raise UserError(f"{path}: expected a non-empty JSON list of sentences (or {{\"sentences\": [...]}})")
    for i, s in enumerate(data):
        if not isinstance(s, str) or not s.strip():
            raise UserError(f"{path}: sentence [{i}] is {type(s).__name__ if not isinstance(s, str) else 'empty'}; "
                            f"every entry must be a non-empty string")
    return data


def tokenizer_for(tokenizer_dir: str | Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    except Exception as e:  # a damaged or missing tokenizer is the checkpoint's problem
        raise UserError(f"cannot load the tokenizer in {tokenizer_dir}: {e.__class__.__name__}") from None


def encode(tokenizer, sentences: list[str], seq_len: int, type_vocab_size: int = 2) -> dict[str, torch.Tensor]:
    enc = tokenizer(sentences, padding="max_length", truncation=True, max_length=seq_len, return_tensors="pt")
    types = enc.get("token_type_ids")
    if types is None or type_vocab_size == 1:
        types = torch.zeros_like(enc["input_ids"])
    return {"input_ids": enc["input_ids"], "token_type_ids": types, "attention_mask": enc["attention_mask"]}


def embed_sentences(predict: Callable, tokenizer_dir, sentences: list[str], batch: int, seq_len: int,
                    type_vocab_size: int = 2, tokenizer=None) -> torch.Tensor:
    """[len(sentences), hidden] embeddings from `predict(input_ids, token_type_ids, attention_mask)`."""
    tokenizer = tokenizer or tokenizer_for(tokenizer_dir)
    out = []
    for i in range(0, len(sentences), batch):
        chunk = sentences[i:i + batch]
        enc = encode(tokenizer, chunk + [""] * (batch - len(chunk)), seq_len, type_vocab_size)
        out.append(predict(**enc)[:len(chunk)].float())
    return torch.cat(out)


def cosine_matrix(vectors: torch.Tensor) -> torch.Tensor:
    v = torch.nn.functional.normalize(vectors.double(), dim=1)
    return v @ v.T


def similarity_table(vectors: torch.Tensor) -> str:
    sim = cosine_matrix(vectors)
    n = sim.shape[0]
    lines = ["cosine similarity", "     " + "".join(f"{j + 1:>7}" for j in range(n))]
    for i in range(n):
        lines.append(f"{i + 1:>4} " + "".join(f"{sim[i, j].item():7.3f}" for j in range(n)))
    return "\n".join(lines)
