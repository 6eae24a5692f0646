"""Shared fixtures for the question-answering tests: the shipped minilm model, offline."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runtime.qa import DEFAULT_MODEL_DIR, hf_reference_predict, load_tokenizer  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden" / "hf_pipeline_golden.json"
# 50 questions of the SQuAD v1.1 dev set, from its first two articles (CC BY-SA 4.0; tests/qa/data/README.md).
SQUAD_SLICE = Path(__file__).resolve().parent / "data" / "squad-dev-v1.1-slice.json"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    assert (DEFAULT_MODEL_DIR / "model.safetensors").is_file(), "models/minilm-l6-squad1 is missing"
    return DEFAULT_MODEL_DIR


@pytest.fixture(scope="session")
def tokenizer(model_dir):
    return load_tokenizer(model_dir)


@pytest.fixture(scope="session")
def hf_predict(model_dir):
    """HF fp32 minilm; identical rows of a batch (padding copies) are computed once."""
    predict = hf_reference_predict(model_dir)

    def dedup_predict(input_ids, token_type_ids, attention_mask):
        keys = [tuple(r) for r in torch.cat([input_ids, token_type_ids, attention_mask], dim=1).tolist()]
        first: dict = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        rows = list(first.values())
        s, e = predict(input_ids[rows], token_type_ids[rows], attention_mask[rows])
        where = [rows.index(first[k]) for k in keys]
        return s[where], e[where]

    return dedup_predict


@pytest.fixture(scope="session")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def decode_f32(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4").astype(np.float32)


def decode_i32(b64: str) -> list[int]:
    return np.frombuffer(base64.b64decode(b64), dtype="<i4").astype(np.int64).tolist()


def fake_logits(input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic pseudo-random logits that depend only on a row's inputs (favouring the
    context, token type 1, when token types are given)."""
    ids = input_ids.to(torch.float64)
    pos = torch.arange(ids.shape[1], dtype=torch.float64)
    s = torch.sin(ids * 12.9898 + pos * 78.233) * 4.0 + torch.cos(ids.cumsum(1) * 0.37)
    e = torch.sin(ids * 39.3468 + pos * 11.135) * 4.0 + torch.cos(ids.cumsum(1) * 0.53)
    if token_type_ids is not None:
        s = s + 10.0 * token_type_ids
        e = e + 10.0 * token_type_ids
    return s.float(), e.float()
