"""Small helpers that let rewrite passes read as rules."""
from __future__ import annotations

from ..ir import Graph


def is_aten(graph: Graph, n: str, *names: str) -> bool:
    """True if n is one of the aten ops named (without the overload), e.g. is_aten(g, n, "view", "reshape")."""
    kind = graph.kind(n)
    return kind.startswith("aten.") and kind.split(".")[1] in names


def only_user(graph: Graph, n: str, *names: str) -> str | None:
    """The single user of n if it is one of the given aten ops, else None."""
    users = graph.users(n)
    if len(users) == 1 and is_aten(graph, users[0], *names):
        return users[0]
    return None


def call_args(graph: Graph, n: str) -> tuple[list, dict]:
    """The traced call's positional and keyword arguments (tensor operands as ("$", i))."""
    args, kwargs = graph.attrs(n)["argspec"]
    return list(args), dict(kwargs)


def scalar_arg(graph: Graph, n: str, index: int):
    """A non-tensor positional argument of an aten op, or None if it is a tensor."""
    args, _ = call_args(graph, n)
    value = args[index] if index < len(args) else None
    return None if isinstance(value, tuple) and value[:1] == ("$",) else value


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if "layer" in parts:
        i = parts.index("layer")
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


def param_source(graph: Graph, n: str) -> str:
    """HF name of a traced (unprepared) parameter node."""
    d = graph[n]
    assert d["kind"] == "param" and d["attrs"]["prep"] == "identity", n
    return d["attrs"]["sources"][0]


def new_param(graph: Graph, name: str, sources: list[str], prep: str, shape, dtype="float32", **extra) -> str:
    return graph.add(name, "param", shape=tuple(shape), dtype=dtype,
                     attrs={"sources": list(sources), "prep": prep, **extra})
