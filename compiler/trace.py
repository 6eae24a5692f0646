"""Trace a Hugging Face BERT with torch.export (meta device, no weights) into our IR."""
from __future__ import annotations

import operator
import warnings

import torch
import torch.fx

from .errors import TraceError
from .families import FAMILIES, OUTPUTS, TASKS
from .ir import Graph

# Ops that do nothing at inference and carry no value: dropped while tracing.
_SKIP = {"aten._assert_tensor_metadata.default", "aten._assert_scalar.default", "aten.sym_constrain_range_for_size.default"}

# Every family's head classes; the bare encoder traces with its pooler (`BertModel`) or, for sentence embeddings
# (task embed), without it.
OUTPUT_NAMES = {fam.prefix + TASKS[task]: names for fam in FAMILIES.values() for task, names in OUTPUTS.items()}
OUTPUT_NAMES.update({fam.prefix + "Model": ["last_hidden_state", "pooler_output"] for fam in FAMILIES.values()})


def build_meta_model(config, architecture: str = "BertForQuestionAnswering", pooler: bool = True):
    import transformers

    cls = getattr(transformers, architecture, None)
    if architecture not in OUTPUT_NAMES or cls is None:
        raise TraceError(f"architecture '{architecture}' is not supported; use one of {sorted(OUTPUT_NAMES)}")
    try:
        with torch.device("meta"):
            model = cls(config) if pooler or not architecture.endswith("Model") else cls(config, add_pooling_layer=False)
    except Exception as e:  # a config.json value the model refuses (unknown hidden_act, ...): the user's to fix
        raise TraceError(f"cannot build {architecture} from this config ({e.__class__.__name__}: "
                         f"{' '.join(str(e).split())[:200]}); fix the model's config.json") from None
    return model.eval()


def export_model(model, batch: int, seq_len: int) -> torch.export.ExportedProgram:
    """Bare torch.export of the model on meta inputs (what benchmarks compare our build against)."""
    ids = {k: torch.zeros(batch, seq_len, dtype=torch.long, device="meta") for k in
           ("input_ids", "token_type_ids", "attention_mask")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(model, (), ids, strict=False)


def _meta_of(node: torch.fx.Node):
    val = node.meta.get("val")
    if isinstance(val, torch.Tensor):
        return tuple(int(s) for s in val.shape), str(val.dtype).replace("torch.", "")
    if isinstance(val, (tuple, list)):
        return tuple(tuple(int(s) for s in v.shape) for v in val), "tuple"
    return None, None


def _module_path(node: torch.fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    # export names look like "bert.encoder.layer.0.attention.self.query" or "L['self'].bert..."; keep the dotted path
    return path.replace("L['self'].", "").replace("L__self___", "")


def _argspec(obj, operands: list[str]):
    """Replace fx Nodes by ("$", index) so the call can be replayed on real tensors."""
    if isinstance(obj, torch.fx.Node):
        if obj.name not in operands:
            operands.append(obj.name)
        return ("$", operands.index(obj.name))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_argspec(o, operands) for o in obj)
    if isinstance(obj, dict):
        return {k: _argspec(v, operands) for k, v in obj.items()}
    if isinstance(obj, torch.device):
        return ("device", str(obj))
    return obj


def to_ir(ep: torch.export.ExportedProgram, architecture: str, out_names: list[str] | None = None) -> Graph:
    sig = ep.graph_signature
    params = dict(sig.inputs_to_parameters)
    buffers = dict(sig.inputs_to_buffers)
    graph = Graph({"architecture": architecture})
    names: dict[str, str] = {}   # fx name -> IR name
    out_names = out_names or OUTPUT_NAMES[architecture]

    for node in ep.graph.nodes:
        shape, dtype = _meta_of(node)
        if node.op == "placeholder":
            if node.name in params:
                names[node.name] = graph.add(params[node.name], "param", shape=shape, dtype=dtype,
                                             attrs={"sources": [params[node.name]], "prep": "identity"})
            elif node.name in buffers:
                fqn = buffers[node.name]
                init = "arange" if fqn.endswith("position_ids") else "zeros"
                names[node.name] = graph.add(fqn, "buffer", shape=shape, dtype=dtype, attrs={"init": init})
            else:
                names[node.name] = graph.add(node.name, "input", shape=shape, dtype=dtype)
        elif node.op == "call_function":
            if node.target is operator.getitem:
                src, idx = node.args
                names[node.name] = graph.add(node.name, "getitem", [names[src.name]], attrs={"index": idx},
                                             shape=shape, dtype=dtype, module=_module_path(node))
                continue
            kind = str(node.target)
            if kind in _SKIP:
                continue
            operands: list[str] = []
            spec = _argspec((tuple(node.args), dict(node.kwargs)), operands)
            names[node.name] = graph.add(node.name, kind, [names[o] for o in operands], attrs={"argspec": spec},
                                         shape=shape, dtype=dtype, module=_module_path(node))
        elif node.op == "output":
            results = [r for r in node.args[0] if r is not None]
            if len(results) != len(out_names):
                raise TraceError(f"{architecture} exported {len(results)} outputs, expected {len(out_names)}")
            for oname, r in zip(out_names, results):
                graph.add(oname, "output", [names[r.name]], shape=_meta_of(r)[0], dtype=_meta_of(r)[1])
        else:
            raise TraceError(f"unexpected node {node.op} {node.target} in the exported graph")
    return graph


def trace_bert(config, batch: int, seq_len: int, architecture: str = "BertForQuestionAnswering",
               task: str | None = None) -> Graph:
    """HF BERT-family model (any BertConfig / RobertaConfig) -> aten-level IR. Needs no weights: the model lives on
    the meta device. task "embed" traces the bare encoder without its pooler (pooling runs on the host)."""
    embed = task == "embed"
    model = build_meta_model(config, architecture, pooler=not embed)
    try:
        ep = export_model(model, batch, seq_len)
    except Exception as e:  # export failures are about the model/config, not a bug of ours to traceback on
        raise TraceError(f"torch.export failed for this config: {e.__class__.__name__}: {str(e).splitlines()[0]}") from e
    graph = to_ir(ep, architecture, OUTPUTS["embed"] if embed else None)
    graph.meta.update(model_type=getattr(config, "model_type", "bert"), pad_token_id=getattr(config, "pad_token_id", None),
                      task=task, num_labels=getattr(config, "num_labels", None),
                      type_vocab_size=getattr(config, "type_vocab_size", None))
    graph.meta.update(batch=batch, seq_len=seq_len, hidden_size=config.hidden_size,
                      num_heads=config.num_attention_heads, num_layers=config.num_hidden_layers,
                      intermediate_size=config.intermediate_size, layer_norm_eps=config.layer_norm_eps,
                      vocab_size=config.vocab_size, type_vocab_size=config.type_vocab_size)
    return graph
