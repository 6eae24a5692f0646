"""Attention core as four TT-NN ops: scores matmul, fused scale+mask+softmax, context matmul, head concat.

Contract:
    s = matmul(q, kT) ; s2 = mul(s, c) | div(s, 1/c) ; s3 = add(s2, mask) ; p = softmax(s3, -1)
    ctx = matmul(p, v) ; t = transpose(ctx, 1, 2) ; h = reshape(t, [B, S, H])
becomes
    s = matmul(q, kT) role=attention_scores
    p = scale_mask_softmax(s, mask) scale=c                  (in place on the device)
    ctx = matmul(p, v) role=attention_context
    h = concat_heads(ctx)
"""
from ..ir import Graph
from .match import is_aten, layer_of, only_user, scalar_arg


def _scale(graph: Graph, n: str) -> float | None:
    value = scalar_arg(graph, n, 1)
    if not isinstance(value, (int, float)):
        return None
    return float(value) if is_aten(graph, n, "mul") else 1.0 / float(value)


def run(graph: Graph) -> Graph:
    for sm in graph.nodes():
        if not is_aten(graph, sm, "softmax", "_softmax") or scalar_arg(graph, sm, 1) not in (-1, 3):
            continue
        add = graph.args(sm)[0]
        if not is_aten(graph, add, "add") or len(graph.args(add)) != 2:
            continue
        scaled, mask = graph.args(add)
        if graph.kind(mask) != "attention_mask":
            scaled, mask = mask, scaled
        if graph.kind(mask) != "attention_mask" or not is_aten(graph, scaled, "mul", "div"):
            continue
        scale = _scale(graph, scaled)
        scores = graph.args(scaled)[0]
        if scale is None or not is_aten(graph, scores, "matmul"):
            continue
        ctx = only_user(graph, sm, "matmul")
        tr = ctx and only_user(graph, ctx, "transpose")
        merge = tr and only_user(graph, tr, "reshape", "view")
        if not merge:
            continue
        q, k_t = graph.args(scores)
        v = graph.args(ctx)[1]
        mod = graph[scores]["module"]
        layer = layer_of(mod)
        prefix = f"layer{layer}." if layer is not None else ""
        s = graph.add(f"{prefix}attention_scores", "matmul", [q, k_t], attrs={"role": "attention_scores"},
                      shape=graph[scores]["shape"], dtype="float32", module=mod)
        p = graph.add(f"{prefix}attention_probs", "scale_mask_softmax", [s, mask], attrs={"scale": scale},
                      shape=graph[sm]["shape"], dtype="float32", module=mod)
        c = graph.add(f"{prefix}attention_context", "matmul", [p, v], attrs={"role": "attention_context"},
                      shape=graph[ctx]["shape"], dtype="float32", module=mod)
        h = graph.add(f"{prefix}concat_heads", "concat_heads", [c], shape=graph[merge]["shape"], dtype="float32", module=mod)
        graph.replace_uses(merge, h)
    graph.remove_dead()
    return graph

