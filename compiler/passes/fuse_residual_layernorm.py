"""The residual add runs inside layernorm (residual_input_tensor).

Contract: s = aten.add(y, x) ; h = aten.layer_norm(s, gamma, beta)  ->  h = layer_norm(y, x, gamma, beta) residual=True
A layernorm without a preceding single-use add becomes layer_norm(x, gamma, beta) residual=False.
"""
from ..ir import Graph
from .match import is_aten, layer_of


def run(graph: Graph) -> Graph:
    for n in graph.nodes():
        if not is_aten(graph, n, "layer_norm"):
            continue
        x, gamma, beta = graph.args(n)
        spec_args = graph.attrs(n)["argspec"][0]
        eps = float(spec_args[4]) if len(spec_args) > 4 else 1e-5
        mod = graph[n]["module"]
        layer = layer_of(mod)
        prefix = f"layer{layer}." if layer is not None else ""
        name = prefix + ("attention_layernorm" if ".attention." in mod else "output_layernorm" if layer is not None else "layernorm")
        if is_aten(graph, x, "add") and len(graph.args(x)) == 2 and len(graph.users(x)) == 1:
            args, residual = [*graph.args(x), gamma, beta], True
        else:
            args, residual = [x, gamma, beta], False
        h = graph.add(name, "layer_norm", args, attrs={"eps": eps, "residual": residual},
                      shape=graph[n]["shape"], dtype="float32", module=mod)
        graph.replace_uses(n, h)
    graph.remove_dead()
    return graph
