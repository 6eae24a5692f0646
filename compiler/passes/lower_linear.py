"""Remaining aten linears become TT-NN linears with [in, out] weights.

Contract: y = aten.linear(x, W[out,in], b) -> y = linear(x, W^T, b) role=<qkv|self_out|ff1|ff2|qa|pooler|classifier>
The role comes from the HF module path; it names the op in schedules and in the emitted program.
"""
from ..ir import Graph
from .match import is_aten, layer_of, new_param, param_source

_ROLES = (("attention.output.dense", "self_out"), ("intermediate.dense", "ff1"), ("output.dense", "ff2"),
          ("qa_outputs", "qa"), ("pooler.dense", "pooler"),
          # RoBERTa's classification head: dense + tanh (the pooler's job) then out_proj
          ("classifier.dense", "pooler"), ("classifier.out_proj", "classifier"), ("classifier", "classifier"))


def role_of(module: str) -> str:
    return next((role for suffix, role in _ROLES if module.endswith(suffix)), module.rsplit(".", 1)[-1])


def run(graph: Graph) -> Graph:
    for n in graph.nodes():
        if not is_aten(graph, n, "linear") or len(graph.args(n)) != 3:
            continue
        x, w, b = graph.args(n)
        mod = graph[n]["module"]
        role = role_of(mod)
        layer = layer_of(mod)
        prefix = f"layer{layer}." if layer is not None else ""
        out_dim, in_dim = graph[w]["shape"]
        base = f"{prefix}{role}"
        if f"{base}.weight" in graph:   # BERT's head is named `classifier` in HF too: keep the two apart
            base += "_out"
        wt = new_param(graph, f"{base}.weight", [param_source(graph, w)], "linear_weight", (in_dim, out_dim))
        bt = new_param(graph, f"{base}.bias", [param_source(graph, b)], "linear_bias", (out_dim,))
        y = graph.add(f"{prefix}{role}", "linear", [x, wt, bt], attrs={"role": role, "activation": None},
                      shape=graph[n]["shape"], dtype="float32", module=mod)
        graph.replace_uses(n, y)
    graph.remove_dead()
    return graph
