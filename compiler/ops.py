"""The op registry: every IR kind, its float32 reference semantics, attributes, TT-NN call, family and stages.

Each device kind maps to one TT-NN call in the emitted program, whose program config its family's module in
kernels/ derives. The functions here say what the op computes, exactly, so the interpreter can check every
rewrite against Hugging Face; `OPS` (at the end) is the one table the interpreter, the pass pipeline's stage
checks and lowering read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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


@dataclass(frozen=True)
class OpSpec:
    """One op kind, said once: what it computes, its attributes, the TT-NN call, its family and its stages.

    Stages are the pipeline's positions: "traced" (the aten graph), then each pass of compiler/passes/pipeline.py
    by name (the IR after it), then "scheduled" (the lowered program's ops). A kind may exist from `first` to
    `last`, both included; pipeline.py checks every IR against this after every pass and after scheduling.
    """
    kind: str
    semantics: Callable | None          # float32 reference (None: leaves and aten ops, run by the interpreter)
    attrs: tuple[str, ...]              # the attributes that are arguments of `semantics`
    ttnn: str | None                    # the function the emitted program calls (None: not a device op)
    family: str                         # kernels/<family>.py derives its configs; "host" / "leaf" / "aten"
    first: str                          # first stage where the kind may exist
    last: str                           # last stage where it may exist

    @property
    def on_device(self) -> bool:
        return self.ttnn is not None


TRACED, LAST_PASS, SCHEDULED = "traced", "lower_heads", "scheduled"

_SPECS = [
    # host-side: made by the passes, done by the runtime around the device program (never scheduled)
    OpSpec("attention_mask", attention_mask, ("fill",), None, "host", "extract_attention_mask", LAST_PASS),
    OpSpec("split_logits", split_logits, ("columns",), None, "host", "lower_qa_head", LAST_PASS),
    OpSpec("take_logits", take_logits, ("row", "columns"), None, "host", "lower_heads", LAST_PASS),
    OpSpec("pool", pool, ("mode", "normalize"), None, "host", "lower_heads", LAST_PASS),
    # device ops: made by a pass, lowered to one TT-NN call each
    OpSpec("embedding", embedding, (), "ttnn.embedding", "embedding", "fuse_embeddings", SCHEDULED),
    OpSpec("add", add, (), "ttnn.add", "embedding", "fuse_embeddings", SCHEDULED),
    OpSpec("layer_norm", layer_norm, ("eps", "residual"), "ttnn.layer_norm", "layernorm", "fuse_embeddings", SCHEDULED),
    OpSpec("linear", linear, ("activation",), "ttnn.linear", "matmul", "fuse_qkv", SCHEDULED),
    OpSpec("split_heads", split_heads, ("num_heads", "groups"),
           "ttnn.experimental.split_query_key_value_and_split_heads", "attention", "fuse_qkv", SCHEDULED),
    OpSpec("matmul", matmul, (), "ttnn.matmul", "matmul", "fuse_attention", SCHEDULED),
    OpSpec("scale_mask_softmax", scale_mask_softmax, ("scale",), "ttnn.scale_mask_softmax_in_place", "softmax",
           "fuse_attention", SCHEDULED),
    OpSpec("concat_heads", concat_heads, (), "ttnn.experimental.nlp_concat_heads", "attention", "fuse_attention",
           SCHEDULED),
    # layout conversions: only lowering makes them, where placements change
    OpSpec("to_sharded", identity, (), "ttnn.interleaved_to_sharded", "data_movement", SCHEDULED, SCHEDULED),
    OpSpec("to_interleaved", identity, (), "ttnn.sharded_to_interleaved", "data_movement", SCHEDULED, SCHEDULED),
    # graph leaves: values, not ops; lowering turns them into inputs, weights and the output
    *(OpSpec(k, None, (), None, "leaf", TRACED, LAST_PASS) for k in ("input", "param", "buffer", "output", "getitem")),
]
OPS: dict[str, OpSpec] = {s.kind: s for s in _SPECS}

# Traced aten ops: any overload, until the passes have rewritten them (pipeline.check_lowered). The ones that do
# nothing at inference go in the first pass (remove_inference_noops).
ATEN = OpSpec("aten.*", None, (), None, "aten", TRACED, LAST_PASS)
INFERENCE_NOOPS = ("dropout", "contiguous", "clone", "alias", "detach")
ATEN_NOOP = OpSpec("aten.<noop>", None, (), None, "aten", TRACED, TRACED)


def spec(kind: str) -> OpSpec | None:
    """The spec of an IR kind (an aten overload "aten.name.overload" maps to the aten entries); None if unknown."""
    if kind.startswith("aten."):
        return ATEN_NOOP if kind.split(".")[1] in INFERENCE_NOOPS else ATEN
    return OPS.get(kind)


REFERENCE = {k: s.semantics for k, s in OPS.items() if s.semantics is not None}
HOST_KINDS = {k for k, s in OPS.items() if s.family == "host"}
TT_KINDS = {k for k, s in OPS.items() if s.on_device}
LEAF_KINDS = {k for k, s in OPS.items() if s.family == "leaf"}
