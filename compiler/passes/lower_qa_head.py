"""QA head: one linear padded to a full tile of columns, logits split on the host.

Contract:
    y = linear(h, W, b) role=qa : BxSx2 ; split(y, 1, -1) ; getitem 0/1 ; squeeze(-1) -> start/end logits
becomes
    y = linear(h, W_pad, b_pad) role=qa : BxSx32       (columns 2..31 are zero padding)
    start, end = split_logits(y) columns=2             (host, after reading the device output)
"""
from ..ir import Graph
from .match import is_aten

TILE = 32


def run(graph: Graph) -> Graph:
    for lin in graph.nodes("linear"):
        if graph.attrs(lin).get("role") != "qa":
            continue
        split = graph.users(lin)
        if len(split) != 1 or not is_aten(graph, split[0], "split", "split_with_sizes", "unbind"):
            continue
        b, s, n = graph[lin]["shape"]
        padded = n + (-n) % TILE
        for p in graph.args(lin)[1:]:
            graph.attrs(p)["pad_to"] = TILE
            graph[p]["shape"] = graph[p]["shape"][:-1] + (padded,)
        graph[lin]["shape"] = (b, s, padded)
        logits = graph.add("split_logits", "split_logits", [lin], attrs={"columns": n},
                           shape=tuple((b, s) for _ in range(n)), dtype="tuple", module="qa_outputs")
        for item in graph.users(split[0]):
            index = graph.attrs(item)["index"]
            squeeze = graph.users(item)
            target = squeeze[0] if len(squeeze) == 1 and is_aten(graph, squeeze[0], "squeeze") else item
            new = graph.add(["start_logits", "end_logits"][index] + "_value" if n == 2 else f"logit_{index}",
                            "getitem", [logits], attrs={"index": index}, shape=(b, s), dtype="float32", module="qa_outputs")
            graph.replace_uses(target, new)
    graph.remove_dead()
    return graph
