"""Shared helpers for compiler tests: configs, random HF models, inputs with padding."""
from __future__ import annotations

import functools

import torch
from transformers import BertConfig, BertForQuestionAnswering, BertModel

from compiler.trace import trace_bert

CONFIGS = {
    "tiny": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256, vocab_size=512),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, vocab_size=30522),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, vocab_size=30522),
    # bert-large layer shapes with 2 layers: per-op configs do not depend on depth, tracing is 10x faster
    "large2": dict(hidden_size=1024, num_hidden_layers=2, num_attention_heads=16, intermediate_size=4096, vocab_size=30522),
    "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536, vocab_size=30522),
}


def bert_config(name: str) -> BertConfig:
    cfg = BertConfig(**CONFIGS[name])
    cfg._attn_implementation = "eager"
    return cfg


@functools.lru_cache(maxsize=None)
def traced(name: str, batch: int, seq: int, arch: str = "BertForQuestionAnswering"):
    return trace_bert(bert_config(name), batch, seq, arch)


@functools.lru_cache(maxsize=4)
def hf_model(name: str, arch: str = "BertForQuestionAnswering", seed: int = 0):
    torch.manual_seed(seed)
    cls = BertForQuestionAnswering if arch == "BertForQuestionAnswering" else BertModel
    model = cls(bert_config(name)).eval()
    # Random init keeps LayerNorm at identity; perturb it so the test sees gamma/beta really applied.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm" in n:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def model_inputs(batch: int, seq: int, vocab: int, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    types = torch.zeros(batch, seq, dtype=torch.long)
    types[:, seq // 3:] = 1
    mask = torch.ones(batch, seq, dtype=torch.long)
    for b in range(batch):                       # every sequence but the first is padded
        mask[b, seq - (b * seq) // (2 * batch):] = 0
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def interpreter_inputs(inputs: dict, seq: int) -> dict:
    batch = inputs["input_ids"].shape[0]
    return {**inputs, "position_ids": torch.arange(seq).expand(batch, seq)}
