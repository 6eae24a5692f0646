"""Drop ops that do nothing at inference.

Contract: dropout (eval mode), contiguous, clone and alias are replaced by their input.
    before: d = aten.dropout.default(x) ; y = aten.linear.default(d, w, b)
    after:  y = aten.linear.default(x, w, b)
"""
from ..ir import Graph
from ..ops import INFERENCE_NOOPS as NOOPS
from .match import is_aten


def run(graph: Graph) -> Graph:
    for n in graph.nodes():
        if is_aten(graph, n, *NOOPS):
            graph.replace_uses(n, graph.args(n)[0])
            graph.remove(n)
    graph.remove_dead()
    return graph
