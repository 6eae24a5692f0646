"""Embeddings as the reference runs them: three lookups, one add, one layernorm with residual.

Contract: LN(word[ids] + type[tt] + pos[arange]) becomes
    w = embedding(input_ids, word_table) ; t = embedding(token_type_ids, type_table)
    wt = add(w, t) ; p = embedding(position_ids, pos_table)
    h = layer_norm(p, wt, gamma, beta) residual=True
with `position_ids` a host input: an arange over the sequence, as the reference passes it, or, where the traced
position ids derive from the token ids (RoBERTa: cumsum(ids != pad) * (ids != pad) + pad), that computation
on the host (`synthesized: padding_offset`).
"""
import networkx as nx

from ..ir import Graph
from .match import is_aten, param_source

_TABLES = {"word_embeddings": "word", "token_type_embeddings": "type", "position_embeddings": "pos"}


def _table_role(graph: Graph, emb: str) -> str | None:
    table = graph.args(emb)[0]
    if graph.kind(table) != "param":
        return None
    name = param_source(graph, table)
    return next((role for key, role in _TABLES.items() if f".{key}." in f".{name}"), None)


def run(graph: Graph) -> Graph:
    lookups = {}
    for n in graph.nodes():
        if is_aten(graph, n, "embedding"):
            role = _table_role(graph, n)
            if role:
                lookups[role] = n
    if set(lookups) != {"word", "type", "pos"}:
        return graph
    # The layernorm that closes the embeddings: the first aten.layer_norm downstream of all three lookups.
    ln = next(n for n in graph.nodes() if is_aten(graph, n, "layer_norm") and graph[n]["module"].endswith("embeddings.LayerNorm"))
    gamma, beta = graph.args(ln)[1], graph.args(ln)[2]
    batch, seq, hidden = graph[ln]["shape"]
    eps = graph.attrs(ln)["argspec"][0][4] if len(graph.attrs(ln)["argspec"][0]) > 4 else 1e-5
    ids, tts = graph.args(lookups["word"])[1], graph.args(lookups["type"])[1]
    traced_pos = graph.args(lookups["pos"])[1]
    from_ids = ids in nx.ancestors(graph.g, traced_pos)
    attrs = {"synthesized": "padding_offset", "padding_idx": graph.meta["pad_token_id"]} if from_ids else {"synthesized": "arange"}
    pos_ids = graph.add("position_ids", "input", shape=(batch, seq), dtype="int64", attrs=attrs)
    mod = graph[ln]["module"].rsplit(".", 1)[0]  # "bert.embeddings" (QA) or "embeddings" (BertModel)
    shape = (batch, seq, hidden)
    w = graph.add("word_embeddings", "embedding", [ids, graph.args(lookups["word"])[0]], shape=shape, dtype="float32", module=mod + ".word_embeddings")
    t = graph.add("token_type_embeddings", "embedding", [tts, graph.args(lookups["type"])[0]], shape=shape, dtype="float32", module=mod + ".token_type_embeddings")
    wt = graph.add("word_plus_token_type", "add", [w, t], shape=shape, dtype="float32", module=mod)
    p = graph.add("position_embeddings", "embedding", [pos_ids, graph.args(lookups["pos"])[0]], shape=shape, dtype="float32", module=mod + ".position_embeddings")
    h = graph.add("embeddings", "layer_norm", [p, wt, gamma, beta], attrs={"eps": float(eps), "residual": True},
                  shape=shape, dtype="float32", module=mod + ".LayerNorm")
    graph.replace_uses(ln, h)
    graph.remove_dead()
    return graph
