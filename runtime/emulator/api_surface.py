"""Keyword surface of the emulated ttnn entry points, and of a real ttnn module.

``emulator_api_surface()`` returns ``{qualified name: [keyword names]}`` for
every emulated function and config class (e.g.
``"ttnn.linear": ["input_tensor_a", "input_tensor_b", "bias", ...]``).
``surface_from_module(mod)`` computes the same dict from any module that
provides those names, including the real ttnn 0.81.1 (nanobind signatures
are parsed from ``__nb_signature__``; Python functions via ``inspect``), so
the conformance checks can compare the two.  Overloaded entry points list the
union of their overloads' keyword names in order of first appearance.
Positional-only parameters (``/``) and ``self`` are not keywords.

This module imports neither torch nor the emulator at import time, so it can
run under the real ttnn's interpreter:
``python -c "import ttnn, json, runtime.emulator.api_surface as a; print(json.dumps(a.surface_from_module(ttnn)))"``.
"""

from __future__ import annotations

import inspect
from typing import Dict, List

# qualified names of everything a compiled program may call or construct
API_FUNCTIONS = [
    "ttnn.open_device",
    "ttnn.close_device",
    "ttnn.from_torch",
    "ttnn.to_torch",
    "ttnn.to_device",
    "ttnn.from_device",
    "ttnn.to_layout",
    "ttnn.deallocate",
    "ttnn.dump_tensor",
    "ttnn.load_tensor",
    "ttnn.reshape",
    "ttnn.embedding",
    "ttnn.add",
    "ttnn.layer_norm",
    "ttnn.interleaved_to_sharded",
    "ttnn.sharded_to_interleaved",
    "ttnn.linear",
    "ttnn.matmul",
    "ttnn.scale_mask_softmax_in_place",
    "ttnn.transformer.split_query_key_value_and_split_heads",
    "ttnn.transformer.concatenate_heads",
    "ttnn.experimental.split_query_key_value_and_split_heads",
    "ttnn.experimental.nlp_concat_heads",
    # mesh, command queues, trace (runtime/emulator/ttnn/multi_device.py, trace.py)
    "ttnn.open_mesh_device",
    "ttnn.close_mesh_device",
    "ttnn.shard_tensor_to_mesh_mapper",
    "ttnn.replicate_tensor_to_mesh_mapper",
    "ttnn.concat_mesh_to_tensor_composer",
    "ttnn.distribute_tensor",
    "ttnn.get_device_tensors",
    "ttnn.begin_trace_capture",
    "ttnn.end_trace_capture",
    "ttnn.execute_trace",
    "ttnn.release_trace",
    "ttnn.record_event",
    "ttnn.wait_for_event",
    "ttnn.event_synchronize",
    "ttnn.synchronize_device",
    "ttnn.copy_host_to_device_tensor",
    "ttnn.copy",
    "ttnn.allocate_tensor_on_device",
]

API_CLASSES = [
    "ttnn.MemoryConfig",
    "ttnn.ShardSpec",
    "ttnn.CoreCoord",
    "ttnn.CoreRange",
    "ttnn.CoreRangeSet",
    "ttnn.CoreGrid",
    "ttnn.UnaryWithParam",
    "ttnn.MatmulMultiCoreReuseMultiCastProgramConfig",
    "ttnn.MatmulMultiCoreReuseProgramConfig",
    "ttnn.LayerNormShardedMultiCoreProgramConfig",
    "ttnn.LayerNormDefaultProgramConfig",
    "ttnn.SoftmaxShardedMultiCoreProgramConfig",
    "ttnn.SoftmaxDefaultProgramConfig",
    "ttnn.DispatchCoreConfig",
    "ttnn.WormholeComputeKernelConfig",
    "ttnn.MeshShape",
]

# ttnn.MemoryConfig's second overload (buffer_type, nd_shard_spec) is ND sharding,
# which the emulator does not model; compare only the first overload.
_SKIP_OVERLOAD_PARAMS = {"ttnn.MemoryConfig": {"nd_shard_spec"}}


def _resolve(mod, qualified: str):
    obj = mod
    for part in qualified.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _split_top(s: str) -> List[str]:
    out, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return [p.strip() for p in out if p.strip()]


def _keywords_from_nb_signature(sig: str) -> List[str]:
    """Keyword-capable parameter names of one nanobind ``def f(...)`` signature string."""
    start = sig.index("(")
    depth = 0
    end = start
    for i in range(start, len(sig)):
        if sig[i] == "(":
            depth += 1
        elif sig[i] == ")":
            depth -= 1
            if depth == 0:
                end = i
                break
    params = _split_top(sig[start + 1:end])
    names: List[str] = []
    for p in params:
        p = p.replace("\\*", "*")
        if p == "/":
            names = []  # everything before '/' is positional only
            continue
        if p == "*" or p.startswith("**") or p.startswith("*"):
            continue
        name = p.split(":")[0].split("=")[0].strip()
        if name == "self":
            continue
        names.append(name)
    return names


def _nb_signatures(obj):
    for getter in (
        lambda o: type(o).__call__.__nb_signature__,  # FastOperation-like callables
        lambda o: o.__nb_signature__,  # nb functions
        lambda o: o.__init__.__nb_signature__,  # nb classes
    ):
        try:
            sigs = getter(obj)
        except AttributeError:
            continue
        if sigs:
            return [s[0] for s in sigs]
    return None


def keywords_of(obj, qualified: str = "") -> List[str]:
    """Keyword names accepted by ``obj`` (function, ttnn operation object or class)."""
    declared = getattr(obj, "_ttnn_keywords", None)
    if declared is not None:
        return list(declared)
    target = obj
    # ttnn's python operations wrap the function in an object with .function
    fn = getattr(obj, "function", None)
    if fn is not None and not inspect.isclass(obj):
        nbs = _nb_signatures(fn)
        if nbs is None and callable(fn):
            target = fn
    sigs = _nb_signatures(obj) if target is obj else None
    if target is obj and sigs is None and fn is not None:
        sigs = _nb_signatures(fn)
    if sigs is not None:
        names: List[str] = []
        skip = _SKIP_OVERLOAD_PARAMS.get(qualified, set())
        for s in sigs:
            kws = _keywords_from_nb_signature(s)
            if skip & set(kws):
                continue
            for k in kws:
                if k not in names:
                    names.append(k)
        return names
    if inspect.isclass(target):
        sig = inspect.signature(target.__init__)
        params = list(sig.parameters.values())[1:]
    else:
        params = list(inspect.signature(target).parameters.values())
    return [p.name for p in params
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]


def surface_from_module(mod) -> Dict[str, List[str]]:
    """``{qualified name: [keyword names]}`` for API_FUNCTIONS + API_CLASSES found in ``mod``."""
    out: Dict[str, List[str]] = {}
    for name in API_FUNCTIONS + API_CLASSES:
        try:
            obj = _resolve(mod, name)
        except AttributeError:
            continue
        out[name] = keywords_of(obj, name)
    return out


def emulator_api_surface() -> Dict[str, List[str]]:
    """The emulator's keyword surface (every name in API_FUNCTIONS and API_CLASSES)."""
    from . import ttnn as emulated

    surface = surface_from_module(emulated)
    missing = [n for n in API_FUNCTIONS + API_CLASSES if n not in surface]
    if missing:  # pragma: no cover - guarded by tests
        raise RuntimeError(f"emulator lacks {missing}")
    return surface


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "--real":
        import ttnn  # the real package

        print(json.dumps(surface_from_module(ttnn), indent=1))
    else:
        print(json.dumps(emulator_api_surface(), indent=1))
