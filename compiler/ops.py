"""The TT-NN-level op vocabulary and its float32 reference semantics.

Each kind maps to one TT-NN call in the emitted program (see kernels/). The functions here say
what the op computes, exactly, so the interpreter can check every rewrite against Hugging Face.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def attention_mask(mask: torch.Tensor, *, fill: float) -> torch.Tensor:
    """HF's extended additive mask [B, 1, 1, S]: 0 where attended, `fill` (-100000) on padding."""
    return torch.where(mask[:, None, None, :].bool(), 0.0, fill).float()


def embedding(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    return F.embedding(ids.long(), table)


def add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a + b


def layer_norm(x, *rest, eps: float, residual: bool):
    if residual:
        res, gamma, beta = rest
        x = x + res
    else:
        gamma, beta = rest
    return F.layer_norm(x, (x.shape[-1],), gamma.reshape(-1), beta.reshape(-1), eps)


def linear(x, w, b, *, activation=None, **_):
    y = torch.matmul(x, w) + b.reshape(-1)
    if activation == "gelu":
        y = F.gelu(y)
    elif activation == "tanh":
        y = torch.tanh(y)
    return y


def split_heads(qkv: torch.Tensor, *, num_heads: int, groups: int):
    """[B, S, 3H] with G groups of [q_g k_g v_g] -> Q [B,NH,S,D], K^T [B,NH,D,S], V [B,NH,S,D]."""
    b, s, three_h = qkv.shape
    h = three_h // 3
    d = h // num_heads
    grouped = qkv.reshape(b, s, groups, 3, h // groups)
    q, k, v = (grouped[:, :, :, i, :].reshape(b, s, num_heads, d).permute(0, 2, 1, 3) for i in range(3))
    return q, k.transpose(-1, -2), v


def matmul(a, b, **_):
    return torch.matmul(a, b)


def scale_mask_softmax(x, mask, *, scale: float):
    return torch.softmax(x * scale + mask.reshape(mask.shape[0], 1, 1, -1), dim=-1)


def concat_heads(x):
    b, nh, s, d = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, s, nh * d)


def split_logits(x, *, columns: int = 2):
    return tuple(x[..., i] for i in range(columns))


def take_logits(x, *, row, columns):
    """The head's real columns, of one token (row 0: [CLS] / <s>) or of every token."""
    return x[:, row, :columns] if row is not None else x[..., :columns]


def pool(hidden, attention_mask, *, mode: str, normalize: bool):
    """sentence-transformers' Pooling: the first token, or the mean over attended tokens; then optional L2 norm."""
    if mode == "cls":
        out = hidden[:, 0]
    else:
        m = attention_mask[..., None].to(hidden.dtype)
        out = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return F.normalize(out, p=2, dim=1) if normalize else out


def position_ids(input_ids, *, synthesized: str = "arange", padding_idx: int | None = None):
    """The host-made position ids: 0..S-1, or RoBERTa's (create_position_ids_from_input_ids)."""
    b, s = input_ids.shape
    if synthesized == "padding_offset":
        mask = input_ids.ne(padding_idx).long()
        return torch.cumsum(mask, dim=1) * mask + padding_idx
    return torch.arange(s).expand(b, s)


def identity(x, **_):
    return x


REFERENCE = {
    "attention_mask": attention_mask,
    "embedding": embedding,
    "add": add,
    "layer_norm": layer_norm,
    "linear": linear,
    "split_heads": split_heads,
    "matmul": matmul,
    "scale_mask_softmax": scale_mask_softmax,
    "concat_heads": concat_heads,
    "split_logits": split_logits,
    "take_logits": take_logits,
    "pool": pool,
    "to_sharded": identity,
    "to_interleaved": identity,
}

# Kinds that run on the host, before or after the device program.
HOST_KINDS = {"attention_mask", "split_logits", "take_logits", "pool"}
TT_KINDS = set(REFERENCE) - HOST_KINDS
LEAF_KINDS = {"input", "param", "buffer", "output", "getitem"}

SOFTMAX_SCALE = lambda head_dim: 1.0 / math.sqrt(head_dim)  # noqa: E731
