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

from .. import ops
from ..errors import TraceError
from ..ir import Graph
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


# The pipeline's stages, in order: the traced graph, the IR after each pass, the scheduled program.
STAGES = (ops.TRACED, *(name for name, _ in PASSES), ops.SCHEDULED)
_AT = {stage: i for i, stage in enumerate(STAGES)}

# The stage rules (compiler/ops.py OpSpec), by name; a broken one raises StageError naming it.
KNOWN_KIND = "known_kind"                  # every IR kind has a spec in compiler/ops.py
NOT_BEFORE_FIRST = "not_before_first"      # a kind exists only from the stage that makes it (OpSpec.first)
NOT_AFTER_LAST = "not_after_last"          # ... and no later than its last stage (OpSpec.last)
TTNN_CALL = "ttnn_call"                    # a scheduled op calls its kind's TT-NN function (OpSpec.ttnn)
TT_LEVEL_AFTER_PASSES = "tt_level_after_passes"   # after the last pass only TT-NN-level, host and leaf kinds


class StageError(TraceError):
    """An IR breaks a stage rule of the op registry: a pass (or lowering) made or left a kind where it may not be."""

    def __init__(self, stage: str, rule: str, detail: str, message: str | None = None):
        self.stage, self.rule = stage, rule
        super().__init__(message or f"after {stage}: rule {rule} broken: {detail}")


def check_kind(stage: str, name: str, kind: str) -> None:
    """One op of kind `kind` at `stage`: the spec must exist and allow the stage."""
    spec = ops.spec(kind)
    if spec is None:
        raise StageError(stage, KNOWN_KIND, f"{name} has kind '{kind}', which compiler/ops.py does not define")
    if _AT[stage] < _AT[spec.first]:
        raise StageError(stage, NOT_BEFORE_FIRST, f"{name} is a '{kind}', which exists from {spec.first} on")
    if _AT[stage] > _AT[spec.last]:
        raise StageError(stage, NOT_AFTER_LAST, f"{name} is a '{kind}', which exists up to {spec.last} only")


def check_stage(graph: Graph, stage: str) -> None:
    for n, kind in graph.g.nodes(data="kind"):
        check_kind(stage, n, kind)


def check_scheduled(program_ops) -> None:
    """After scheduling: only device kinds, each calling the TT-NN function its spec names."""
    for op in program_ops:
        check_kind(ops.SCHEDULED, op.name, op.kind)
        want = ops.OPS[op.kind].ttnn
        if op.call.func != want:
            raise StageError(ops.SCHEDULED, TTNN_CALL, f"{op.name} ({op.kind}) calls {op.call.func}, not {want}")


def run_passes(graph: Graph, dump: Callable[[str, str], None] | None = None, upto: str | None = None) -> Graph:
    """Apply the passes in order, checking the op registry's stages after each; `dump(stage, ir_text)` sees the
    traced IR first, then the IR after each pass ("unchanged" if a pass did nothing)."""
    check_stage(graph, ops.TRACED)
    if dump:
        dump(ops.TRACED, graph.dump())
    for name, rewrite in PASSES:
        before = graph.dump() if dump else None
        graph = rewrite(graph)
        check_stage(graph, name)
        if dump:
            after = graph.dump()
            dump(name, "unchanged" if after == before else after)
        if name == upto:
            break
    return graph


def check_lowered(graph: Graph) -> None:
    """Stage check: after the passes, only TT-NN-level, host and leaf ops may remain (rule tt_level_after_passes)."""
    left = sorted({graph.kind(n) for n in graph.nodes()} - ops.TT_KINDS - ops.HOST_KINDS - ops.LEAF_KINDS)
    if left:
        # the one stage error a user meets (a model the compiler does not lower): said in the user's terms
        raise StageError(STAGES[-2], TT_LEVEL_AFTER_PASSES, ", ".join(left),
                         f"ops with no TT-NN lowering remain: {', '.join(left)} "
                         "(supported: the qa, embed, sequence-classification and token-classification heads of "
                         "BERT-family encoders; BertModel with its pooler traces and interprets but has no TT-NN lowering)")
