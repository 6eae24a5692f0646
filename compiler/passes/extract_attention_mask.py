"""Replace HF's mask construction by one host op producing the extended additive mask.

Contract: the subgraph computed from the `attention_mask` input alone (index/where/expand...) is
replaced by `attention_mask(attention_mask) fill=-100000` of shape [B, 1, 1, S], as the reference
program prepares it on the host (clamped at -100000 so exp() stays finite on the device).
    before: ... m = aten.where.ScalarOther(expand, zeros, -3.4e38) : Bx1xSxS ; s = aten.add.Tensor(scores, m)
    after:  m = attention_mask(attention_mask) fill=-100000.0 : Bx1x1xS ; s = aten.add.Tensor(scores, m)
"""
import networkx as nx

from ..errors import TraceError
from ..ir import Graph

FILL = -100000.0


def run(graph: Graph) -> Graph:
    mask_input = "attention_mask"
    if mask_input not in graph:
        return graph
    # Nodes whose value depends only on the mask input (and constants/buffers, never on parameters or ids).
    derived = set(nx.descendants(graph.g, mask_input))
    depends_on_other = set()
    for n in graph.inputs():
        if n != mask_input:
            depends_on_other |= nx.descendants(graph.g, n) | {n}
    for n in graph.nodes("param"):
        depends_on_other |= nx.descendants(graph.g, n)
    mask_only = derived - depends_on_other
    frontier = sorted({n for n in mask_only if any(u not in mask_only for u in graph.users(n))})
    if not frontier:
        return graph
    if len(frontier) != 1:
        raise TraceError(f"attention mask is consumed in {len(frontier)} forms ({', '.join(frontier)}); "
                         "expected one extended mask")
    batch, seq = graph[mask_input]["shape"]
    m = graph.add("extended_attention_mask", "attention_mask", [mask_input], attrs={"fill": FILL},
                  shape=(batch, 1, 1, seq), dtype="float32", module="bert")
    graph.replace_uses(frontier[0], m)
    graph.remove_dead()
    return graph
