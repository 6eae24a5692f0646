"""TT-NN API levels the compiler emits for, beside the installed ttnn 0.81.1 wheel.

Grayskull programs target the API of tt-metal v0.55, the last release with Grayskull (no ttnn wheel of that
era installs here). A program says its level in its `TTNN_API` constant. At "v0.55" the checker accepts the
names below, which v0.55 had and 0.81.1 removed, and checks their keywords against this table; it refuses
the 0.81-only keywords listed in V055_ABSENT_KEYWORDS. Everything else is checked against the real wheel.
Facts only, each with its source in tt-metal's v0.55 tree.
"""
from __future__ import annotations

# name -> (accepted keywords, source)
V055_ONLY = {
    "ttnn.GrayskullComputeKernelConfig": (
        ("math_fidelity", "math_approx_mode"),
        "tt-metal v0.55 ttnn/cpp/ttnn/operations/core/compute_kernel/compute_kernel_config.hpp "
        "(struct GrayskullComputeKernelConfig: math_fidelity, math_approx_mode) and its Python binding",
    ),
}

# 0.81 keywords the v0.55 API did not have.
V055_ABSENT_KEYWORDS = {
    "ttnn.LayerNormShardedMultiCoreProgramConfig": (
        ("legacy_reduction", "legacy_rsqrt", "use_welford"),
        "added after v0.55 (tt-metal layernorm program config; the 0.81.1 wheel documents them)",
    ),
}


def program_api_level(tree) -> str:
    """The `TTNN_API = "..."` constant of an emitted program (default: the installed wheel's level)."""
    import ast

    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "TTNN_API" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    return "0.81"


class V055Class:
    """Stands in for a v0.55-only class while the module top level runs: keyword-only, known keywords only."""

    def __init__(self, dotted: str, keywords: tuple[str, ...]):
        self.dotted, self.keywords = dotted, keywords

    def __call__(self, *args, **kwargs):
        if args:
            raise TypeError(f"{self.dotted}() takes keyword arguments only (API v0.55)")
        unknown = sorted(set(kwargs) - set(self.keywords))
        if unknown:
            raise TypeError(f"{self.dotted}() got unexpected keyword {unknown[0]!r} (API v0.55 accepts: "
                            f"{', '.join(self.keywords)})")
        return ("v0.55", self.dotted, tuple(sorted(kwargs.items())))
