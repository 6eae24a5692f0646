"""The IR: a networkx DiGraph of typed ops.

Every node is one value-producing op with:
  kind    "input", "param", "output", an aten overload ("aten.linear.default") or a TT-NN-level
          kind from `compiler.ops` ("linear", "split_heads", ...)
  args    ordered operand node names (edges mirror them, for graph algorithms)
  attrs   non-tensor attributes (for aten ops: `argspec`, the call's args/kwargs with tensor
          operands replaced by ("$", index))
  shape, dtype   of the value (a tuple of shapes for multi-output ops)
  module  the HF module path the op comes from ("bert.encoder.layer.3.attention.self.query")
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable

import networkx as nx


class Graph:
    def __init__(self, meta: dict | None = None):
        self.g = nx.DiGraph()
        self._seq = itertools.count()
        self.meta: dict[str, Any] = dict(meta or {})

    # ---- construction -------------------------------------------------------------------
    def add(self, name: str, kind: str, args: Iterable[str] = (), *, attrs: dict | None = None,
            shape=None, dtype: str | None = None, module: str = "", after: str | None = None) -> str:
        """Add a node; `after` places it right after an existing node in the stable order."""
        name = self._unique(name)
        args = tuple(args)
        seq = next(self._seq) if after is None else self.g.nodes[after]["seq"] + 1e-6 * (1 + next(self._seq) % 1000)
        self.g.add_node(name, kind=kind, args=args, attrs=dict(attrs or {}), shape=shape, dtype=dtype,
                        module=module, seq=seq)
        for a in args:
            self.g.add_edge(a, name)
        return name

    def _unique(self, name: str) -> str:
        if name not in self.g:
            return name
        for i in itertools.count(1):
            cand = f"{name}_{i}"
            if cand not in self.g:
                return cand
        raise AssertionError

    # ---- queries ------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.g

    def __getitem__(self, name: str) -> dict:
        return self.g.nodes[name]

    def kind(self, name: str) -> str:
        return self.g.nodes[name]["kind"]

    def args(self, name: str) -> tuple[str, ...]:
        return self.g.nodes[name]["args"]

    def attrs(self, name: str) -> dict:
        return self.g.nodes[name]["attrs"]

    def users(self, name: str) -> list[str]:
        return sorted(self.g.successors(name), key=lambda n: self.g.nodes[n]["seq"])

    def nodes(self, kind: str | None = None) -> list[str]:
        """Nodes in stable topological order, optionally only those of one kind."""
        order = list(nx.lexicographical_topological_sort(self.g, key=lambda n: self.g.nodes[n]["seq"]))
        return order if kind is None else [n for n in order if self.g.nodes[n]["kind"] == kind]

    def inputs(self) -> list[str]:
        return self.nodes("input")

    def outputs(self) -> list[str]:
        return self.nodes("output")

    # ---- rewriting ----------------------------------------------------------------------
    def set_args(self, name: str, args: Iterable[str]) -> None:
        for a in self.g.nodes[name]["args"]:
            if self.g.has_edge(a, name):
                self.g.remove_edge(a, name)
        args = tuple(args)
        self.g.nodes[name]["args"] = args
        for a in args:
            self.g.add_edge(a, name)

    def replace_uses(self, old: str, new: str) -> None:
        for user in list(self.g.successors(old)):
            self.set_args(user, [new if a == old else a for a in self.g.nodes[user]["args"]])

    def remove(self, name: str) -> None:
        if any(True for _ in self.g.successors(name)):
            raise ValueError(f"cannot remove {name}: still used by {self.users(name)}")
        self.g.remove_node(name)

    def remove_dead(self) -> int:
        """Drop ops whose values nothing uses (inputs, params and outputs are kept unless unused params)."""
        removed = 0
        changed = True
        while changed:
            changed = False
            for n in list(self.g.nodes):
                if self.g.out_degree(n) == 0 and self.g.nodes[n]["kind"] not in ("output", "input"):
                    self.g.remove_node(n)
                    removed += 1
                    changed = True
        return removed

    def copy(self) -> "Graph":
        new = Graph(self.meta)
        new.g = self.g.copy()
        for n in new.g.nodes:
            d = new.g.nodes[n]
            d["attrs"] = dict(d["attrs"])
        new._seq = itertools.count(max((d["seq"] for _, d in self.g.nodes(data=True)), default=0) + 1)
        return new

    # ---- printing -----------------------------------------------------------------------
    def dump(self, params: bool = False) -> str:
        """One line per op: `name = kind(args) {attrs} : shape dtype  # module`."""
        lines = []
        for n in self.nodes():
            d = self.g.nodes[n]
            if d["kind"] == "param" and not params:
                continue
            attrs = {k: v for k, v in d["attrs"].items() if k != "argspec"}
            shape = "x".join(map(str, d["shape"])) if isinstance(d["shape"], tuple) and all(
                isinstance(s, int) for s in d["shape"]) else d["shape"]
            line = f"{n} = {d['kind']}({', '.join(d['args'])})"
            if attrs:
                line += " " + ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
            line += f" : {shape} {d['dtype']}"
            if d["module"]:
                line += f"  # {d['module']}"
            lines.append(line)
        return "\n".join(lines)
