"""One fused QKV linear plus one head split, instead of three linears and six reshapes.

Contract: for each self-attention block,
    q = linear(x, Wq, bq) ; view ; transpose(1, 2)          (same for k and v; k later transposed (2, 3))
becomes
    qkv = linear(x, Wqkv, bqkv) role=qkv                    Wqkv = [Wq^T | Wk^T | Wv^T] regrouped in `groups` blocks
    q, kT, v = split_heads(qkv) num_heads=NH groups=G       (getitems 0, 1, 2)
`groups` starts at 1 (plain concatenation); scheduling sets it to the grid columns across the hidden size.
"""
from ..ir import Graph
from .match import is_aten, layer_of, new_param, only_user, param_source, scalar_arg


def _head_path(graph: Graph, linear: str):
    """linear -> view -> transpose(1, 2): returns the transpose, or None if the shape of the pattern differs."""
    view = only_user(graph, linear, "view", "reshape")
    tr = view and only_user(graph, view, "transpose")
    if not tr or sorted((scalar_arg(graph, tr, 1), scalar_arg(graph, tr, 2))) != [1, 2]:
        return None
    return tr


def run(graph: Graph) -> Graph:
    blocks: dict[str, dict[str, str]] = {}
    for n in graph.nodes():
        if is_aten(graph, n, "linear"):
            mod = graph[n]["module"]
            for role in ("query", "key", "value"):
                if mod.endswith("." + role):
                    blocks.setdefault(mod.rsplit(".", 1)[0], {})[role] = n
    for mod, lin in blocks.items():
        if set(lin) != {"query", "key", "value"}:
            continue
        x = graph.args(lin["query"])[0]
        if any(graph.args(lin[r])[0] != x for r in lin):
            continue
        heads = {r: _head_path(graph, lin[r]) for r in lin}
        if not all(heads.values()):
            continue
        k_t = only_user(graph, heads["key"], "transpose")
        if not k_t:
            continue
        b, nh, s, d = graph[heads["query"]]["shape"]
        hidden = nh * d
        layer = layer_of(mod)
        prefix = f"layer{layer}." if layer is not None else ""
        w_src = [param_source(graph, graph.args(lin[r])[1]) for r in ("query", "key", "value")]
        b_src = [param_source(graph, graph.args(lin[r])[2]) for r in ("query", "key", "value")]
        in_dim = graph[graph.args(lin["query"])[1]]["shape"][1]
        w = new_param(graph, f"{prefix}qkv.weight", w_src, "qkv_weight", (in_dim, 3 * hidden), groups=1)
        bias = new_param(graph, f"{prefix}qkv.bias", b_src, "qkv_bias", (3 * hidden,), groups=1)
        qkv = graph.add(f"{prefix}qkv", "linear", [x, w, bias], attrs={"role": "qkv", "activation": None},
                        shape=(b, s, 3 * hidden), dtype="float32", module=mod)
        split = graph.add(f"{prefix}split_heads", "split_heads", [qkv], attrs={"num_heads": nh, "groups": 1},
                          shape=((b, nh, s, d), (b, nh, d, s), (b, nh, s, d)), dtype="tuple", module=mod)
        outs = [graph.add(f"{prefix}{name}", "getitem", [split], attrs={"index": i}, shape=shp, dtype="float32", module=mod)
                for i, (name, shp) in enumerate([("q", (b, nh, s, d)), ("k_t", (b, nh, d, s)), ("v", (b, nh, s, d))])]
        graph.replace_uses(heads["query"], outs[0])
        graph.replace_uses(k_t, outs[1])
        graph.replace_uses(heads["value"], outs[2])
    graph.remove_dead()
    return graph
