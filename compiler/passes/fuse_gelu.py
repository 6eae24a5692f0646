"""GELU runs inside the FF1 matmul (fused_activation), not as its own op.

Contract: y = linear(x, W, b) ; z = aten.gelu(y)   ->   z = linear(x, W, b) activation=gelu
Only exact (erf) GELU is fused, as HF's "gelu"; tanh-approximate GELU is left alone.
"""
from ..ir import Graph
from .match import call_args, is_aten


def run(graph: Graph) -> Graph:
    for n in graph.nodes():
        if not is_aten(graph, n, "gelu"):
            continue
        lin = graph.args(n)[0]
        _, kwargs = call_args(graph, n)
        if graph.kind(lin) != "linear" or len(graph.users(lin)) != 1 or kwargs.get("approximate", "none") != "none":
            continue
        graph.attrs(lin)["activation"] = "gelu"
        graph.replace_uses(n, lin)
        graph.remove(n)
    return graph
