"""Classification and sentence-embedding heads: device linears over every token, the host picks the rows.

Contract (sequence classification, BERT pooler or RoBERTa classification head):
    c = select(h, 1, 0) ; p = linear(c, Wp, bp) ; t = tanh(p) ; y = linear(t, Wc, bc) : BxL
becomes
    p = linear(h, Wp, bp) activation=tanh : BxSxH   (per-token linears commute with taking token 0)
    y = linear(p, Wc_pad, bc_pad) : BxSx32         (columns L..31 zero padding, as the QA head)
    logits = take_logits(y) row=0 columns=L        (host, after reading the device output)
Token classification: y = linear(h, Wc, bc) : BxSxL -> padded linear + take_logits(y) row=None columns=L.
Sentence embeddings (task embed): the encoder output feeds pool(h, attention_mask) mode=mean|cls normalize=bool
on the host, as sentence-transformers' Pooling (and Normalize) modules compute it.
Running the pooler on all S rows costs one extra HxH matmul per token (under 1% of a 12-layer encoder) and
needs no device slice.
"""
from ..ir import Graph
from .match import is_aten

TILE = 32


def _pad_head(graph: Graph, lin: str, row: int | None) -> None:
    shape = graph[lin]["shape"]
    n = shape[-1]
    padded = n + (-n) % TILE
    for p in graph.args(lin)[1:]:
        graph.attrs(p)["pad_to"] = TILE
        graph[p]["shape"] = graph[p]["shape"][:-1] + (padded,)
    graph[lin]["shape"] = shape[:-1] + (padded,)
    b, s = shape[0], shape[1]
    out_shape = (b, n) if row is not None else (b, s, n)
    logits = graph.add("take_logits", "take_logits", [lin], attrs={"row": row, "columns": n},
                       shape=out_shape, dtype="float32", module=graph[lin]["module"])
    _redirect(graph, lin, logits)


def _redirect(graph: Graph, old: str, new: str) -> None:
    """Uses of `old` other than `new` itself read `new` instead."""
    for user in graph.users(old):
        if user != new:
            graph.set_args(user, [new if a == old else a for a in graph.args(user)])


def _sequence_head(graph: Graph) -> bool:
    sel = next((n for n in graph.nodes() if is_aten(graph, n, "select") and graph.attrs(n)["argspec"][0][1:] == (1, 0)
                and all(graph.kind(u) == "linear" for u in graph.users(n))), None)
    if sel is None:
        return False
    h = graph.args(sel)[0]
    b, s, _ = graph[h]["shape"]
    lin = graph.users(sel)[0]
    graph.replace_uses(sel, h)
    graph.remove(sel)
    while True:
        graph[lin]["shape"] = (b, s, graph[lin]["shape"][-1])
        users = graph.users(lin)
        if len(users) == 1 and is_aten(graph, users[0], "tanh"):
            graph.attrs(lin)["activation"] = "tanh"
            graph.replace_uses(users[0], lin)
            graph.remove(users[0])
            users = graph.users(lin)
        if len(users) == 1 and graph.kind(users[0]) == "linear":
            lin = users[0]
            continue
        break
    _pad_head(graph, lin, row=0)
    return True


def run(graph: Graph) -> Graph:
    task = graph.meta.get("task")
    if task == "sequence-classification":
        _sequence_head(graph)
    elif task == "token-classification":
        lin = next(n for n in graph.nodes("linear") if graph.attrs(n).get("role") == "classifier")
        _pad_head(graph, lin, row=None)
    elif task == "embed":
        out = next(n for n in graph.nodes("output"))
        h = graph.args(out)[0]
        pooling = graph.meta.get("pooling") or {"mode": "mean", "normalize": False}
        b, s, hidden = graph[h]["shape"]
        pooled = graph.add("sentence_embedding", "pool", [h, "attention_mask"], attrs=dict(pooling),
                           shape=(b, hidden), dtype="float32", module="pooling")
        _redirect(graph, h, pooled)
    graph.remove_dead()
    return graph
