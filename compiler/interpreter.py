"""Run any stage of the IR in float32 torch: aten ops, TT-NN-level ops, or a mix."""
from __future__ import annotations

import torch

from . import ops, weights
from .ir import Graph


def _resolve_aten(kind: str):
    ns, name, overload = kind.split(".")
    return getattr(getattr(getattr(torch.ops, ns), name), overload)


def _replay(spec, values):
    if isinstance(spec, tuple) and len(spec) == 2 and spec[0] == "$":
        return values[spec[1]]
    if isinstance(spec, tuple) and len(spec) == 2 and spec[0] == "device":
        return torch.device("cpu")   # traced on meta; run on the host
    if isinstance(spec, (list, tuple)):
        return type(spec)(_replay(s, values) for s in spec)
    if isinstance(spec, dict):
        return {k: _replay(v, values) for k, v in spec.items()}
    return spec


def _buffer(node: dict) -> torch.Tensor:
    shape = node["shape"]
    if node["attrs"]["init"] == "arange":
        return torch.arange(shape[-1]).expand(shape).contiguous()
    return torch.zeros(shape, dtype=torch.long)


def run(graph: Graph, inputs: dict[str, torch.Tensor], state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Evaluate the graph; returns {output name: tensor}. Values are freed after their last use."""
    order = graph.nodes()
    position = {n: i for i, n in enumerate(order)}
    last_use = {n: max((position[u] for u in graph.users(n)), default=position[n]) for n in order}
    env: dict[str, object] = {}
    outputs: dict[str, torch.Tensor] = {}
    for i, n in enumerate(order):
        d = graph[n]
        kind = d["kind"]
        args = [env[a] for a in d["args"]]
        if kind == "input":
            val = inputs[n]
        elif kind == "param":
            val = weights.prepare(d["attrs"], state_dict)
        elif kind == "buffer":
            val = _buffer(d)
        elif kind == "output":
            outputs[n] = args[0]
            continue
        elif kind == "getitem":
            val = args[0][d["attrs"]["index"]]
        elif kind.startswith("aten."):
            call_args, call_kwargs = _replay(d["attrs"]["argspec"], args)
            val = _resolve_aten(kind)(*call_args, **call_kwargs)
        else:
            attrs = {k: v for k, v in d["attrs"].items() if not k.startswith("_")}
            spec = ops.OPS[kind]
            val = spec.semantics(*args, **{k: attrs[k] for k in spec.attrs if k in attrs})
        env[n] = val
        for a in set(d["args"]):
            if last_use[a] <= i:
                env.pop(a, None)
    return outputs

