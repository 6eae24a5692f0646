"""The rewrite pipeline from the traced aten graph to TT-NN-level ops, in order.

Order matters where one rule's output is the next one's pattern:
- noops go first so patterns never see dropout/contiguous between ops;
- the mask is extracted before attention fusion, which recognises `attention_mask` as the add operand;
- QKV fusion runs before attention fusion, whose matmuls read the split heads;
- remaining linears are lowered before GELU fusion, which fuses into a TT-NN linear;
- the QA head is lowered last, once its linear is a TT-NN linear, and so are the other heads (lower_heads).
"""
from __future__ import annotations

from typing import Callable

from ..errors import TraceError
from ..ir import Graph
from ..ops import HOST_KINDS, LEAF_KINDS, TT_KINDS
from . import (extract_attention_mask, fuse_attention, fuse_embeddings, fuse_gelu, fuse_qkv,
               fuse_residual_layernorm, lower_heads, lower_linear, lower_qa_head, remove_inference_noops)

PASSES: list[tuple[str, Callable[[Graph], Graph]]] = [
    ("remove_inference_noops", remove_inference_noops.run),
    ("extract_attention_mask", extract_attention_mask.run),
    ("fuse_embeddings", fuse_embeddings.run),
    ("fuse_qkv", fuse_qkv.run),
    ("fuse_attention", fuse_attention.run),
    ("lower_linear", lower_linear.run),
    ("fuse_gelu", fuse_gelu.run),
    ("fuse_residual_layernorm", fuse_residual_layernorm.run),
    ("lower_qa_head", lower_qa_head.run),
    ("lower_heads", lower_heads.run),
]


def run_passes(graph: Graph, dump: Callable[[str, str], None] | None = None, upto: str | None = None) -> Graph:
    """Apply the passes in order; `dump(pass_name, ir_text)` sees the IR after each ("unchanged" if a pass did nothing)."""
    for name, rewrite in PASSES:
        before = graph.dump() if dump else None
        graph = rewrite(graph)
        if dump:
            after = graph.dump()
            dump(name, "unchanged" if after == before else after)
        if name == upto:
            break
    return graph


def check_lowered(graph: Graph) -> None:
    """Stage check: after the passes, only TT-NN-level, host and leaf ops may remain."""
    left = sorted({graph.kind(n) for n in graph.nodes()} - TT_KINDS - HOST_KINDS - LEAF_KINDS)
    if left:
        raise TraceError(f"ops with no TT-NN lowering remain: {', '.join(left)} "
                         "(supported: the qa, embed, sequence-classification and token-classification heads of "
                         "BERT-family encoders; BertModel with its pooler traces and interprets but has no TT-NN lowering)")
