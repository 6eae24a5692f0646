"""Render a scheduled program as a readable Python TT-NN module (jinja2, StrictUndefined)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import jinja2

from .errors import ScheduleError, short
from .lower import memcfg_name
from .program import Program, ScheduledOp, WeightSpec

COMPILER_VERSION = "0.1.0"


class Code(str):
    """Python source the emitter generated itself (calls, config constructors, names); pasted as is."""


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _escape(value: str) -> str:
    """`value` with backslashes, double quotes and every non-printable character (newlines, NUL, U+2028,
    lone surrogates, ...) written as Python escapes: safe between double quotes, in a docstring or a comment."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def py_literal(value) -> Code:
    """The one quoting function for values that reach program.py as literals: a double-quoted string literal
    (repr-style escapes) for str, repr for int / finite float / bool / None; anything else is refused."""
    if isinstance(value, str):
        return Code(f'"{_escape(value)}"')
    if value is None or isinstance(value, (bool, int)) or isinstance(value, float) and math.isfinite(value):
        return Code(repr(value))
    raise TypeError(f"no Python literal for {type(value).__name__} {short(value)}")


def py_text(value) -> Code:
    """A value as text inside the module docstring, a function docstring or a comment: the literal's escapes
    without its quotes, so it can end neither the docstring nor the comment."""
    if isinstance(value, str):
        return Code(_escape(value))
    return Code(_escape(str(py_literal(value))))


def py_ident(value) -> Code:
    """A name pasted into code (REQUIRED_ENV_<key>, ttnn.<dtype>): must be a plain identifier."""
    if not isinstance(value, str) or not _IDENT.match(value):
        raise ScheduleError(f"{short(value)} cannot be a name in the emitted program; use letters, digits and _")
    return Code(value)


def _dotted_name(value: str) -> Code:
    """A state-dict prefix pasted inside an f-string (`bert.encoder.layer.`): letters, digits, _ and . only, so it
    can hold neither a quote nor a brace."""
    if not re.fullmatch(r"[A-Za-z0-9_.]+", value):
        raise ScheduleError(f"{short(value)} cannot be a weight-name prefix in the emitted program")
    return Code(value)


def _finalize(value):
    """Every `{{ }}` in the template must be an int, generated code, or a value passed through a filter above."""
    if isinstance(value, Code) or isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"template pastes unquoted {type(value).__name__} {short(value)}: use |py, |text or |ident")


_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=True, finalize=_finalize, autoescape=False)
_ENV.filters.update(py=py_literal, text=py_text, ident=py_ident)
_REF = re.compile(r"%([^%]+)%")

# What each op family does, for the comment above its call.
_WHAT = {"embedding": "lookup", "add": "word + token type", "to_sharded": "", "split_heads": "split Q, K^T, V per head",
         "scale_mask_softmax": "scale, mask and softmax in place", "concat_heads": "merge heads",
         "to_interleaved": "", "layer_norm": "layernorm(x + residual)"}
_ROLE_WHAT = {"qkv": "fused Q/K/V projection", "attention_scores": "Q x K^T", "attention_context": "probs x V",
              "self_out": "attention output projection", "ff1": "intermediate projection with fused GELU",
              "ff2": "output projection", "qa": "start/end logits", "pooler": "pooler dense + tanh, every token",
              "classifier": "label logits"}


def _var(value: str) -> str:
    value = re.sub(r"^layer\d+\.", "", value)
    return re.sub(r"\W", "_", value)


def _config_name(role: str) -> str:
    return f"{role.upper()}_PROGRAM_CONFIG"


def _dim(value: int, names: dict[int, str]) -> str:
    """A width as the program's named constant where it is one (HIDDEN_SIZE, QKV_WIDTH, ...)."""
    return names.get(value, str(value))


def layer_prefix(program: Program) -> str:
    """The HF state-dict prefix of encoder layers: bert.encoder.layer. (task models), encoder.layer. (bare)..."""
    w = next(w for w in program.weights if w.layer is not None)
    marker = f"encoder.layer.{w.layer}."
    return w.sources[0].split(marker, 1)[0] + "encoder.layer."


def _source_expr(w: WeightSpec, name: str, in_layer: bool, layers: str = "bert.encoder.layer.") -> str:
    if in_layer:
        prefix = f"{layers}{w.layer}."
        assert name.startswith(prefix), name
        return f"sd[hf + {py_literal(name[len(prefix):])}]"
    return f"sd[{py_literal(name)}]"


def _weight_expr(w: WeightSpec, in_layer: bool, names: dict[int, str], layers: str = "bert.encoder.layer.",
                 head_width: str = "QA_OUTPUT_WIDTH") -> str:
    src = [_source_expr(w, s, in_layer, layers) for s in w.sources]
    if w.prep == "identity":
        expr = src[0]
    elif w.prep == "linear_weight":
        expr = f"{src[0]}.T"
    elif w.prep == "linear_bias":
        expr = src[0]
    elif w.prep == "qkv_weight":
        expr = f"fuse_qkv_columns([{', '.join(s + '.T' for s in src)}], groups=HEAD_GROUPS)"
    elif w.prep == "qkv_bias":
        expr = f"fuse_qkv_columns([{', '.join(src)}], groups=HEAD_GROUPS)"
    else:
        raise ValueError(w.prep)
    if w.prep_attrs.get("pad_to"):
        expr = f"pad_columns({expr}, {head_width})"
    if len(w.shape) != (1 if w.prep in ("linear_bias", "qkv_bias") else 2) or w.prep == "identity" and len(w.shape) == 4:
        dims = [str(d) for d in w.shape]
        if w.prep in ("linear_bias", "qkv_bias"):          # a bias row: its width by name
            dims[-1] = _dim(w.shape[-1], names)
        elif len(w.shape) == 4 and w.shape[-1] == 32 and _dim(w.shape[-2] * 32, names) == "HIDDEN_SIZE":
            dims[-2] = "HIDDEN_SIZE // 32"                 # layernorm gamma / beta: rows of 32
        expr = f"{expr}.reshape({', '.join(dims)})"
    return expr


class _Scope:
    """Turns IR value references into Python names for one function body."""

    def __init__(self, program: Program, weights: dict[str, WeightSpec], layer: int | None, layer_values: set[str],
                 hidden_value: str | None, mask_value: str, input_names: set[str]):
        self.p, self.weights, self.layer = program, weights, layer
        self.layer_values, self.hidden_value, self.mask_value, self.inputs = layer_values, hidden_value, mask_value, input_names

    def name(self, value: str) -> str:
        if value.startswith("config:"):
            return _config_name(value.split(":", 1)[1])
        if value.startswith("compute:"):
            return f"{value.split(':', 1)[1].upper()}_COMPUTE_CONFIG"
        if value in self.weights:
            w = self.weights[value]
            return f"w[{py_literal(w.key)}]" if self.layer is not None else f"weights[{py_literal(w.key)}]"
        if value in self.inputs:
            return _var(value)
        if self.layer is not None and value not in self.layer_values:
            return "hidden"
        if value == self.hidden_value:
            return "hidden"
        return _var(value)

    def render(self, text: str) -> str:
        return _REF.sub(lambda m: self.name(m.group(1)), text)


def _op_lines(op: ScheduledOp, scope: _Scope) -> list[str]:
    lines = [f"ttnn.deallocate({scope.name(v)})" for v in op.frees_before]
    module = re.sub(r"^(?:\w+\.)?encoder\.layer\.\d+\.", "", op.module)   # bert., roberta. or a bare encoder
    what = _ROLE_WHAT.get(op.role) or _WHAT.get(op.kind, "")
    comment = op.call.comment or (f"{module}: {what}" if what else module)
    lines.append(f"# {py_text(comment)}")
    lines.append(scope.render(op.call.source()))
    lines += [f"ttnn.deallocate({scope.name(v)})" for v in op.frees]
    return lines


def render(program: Program, runner=None) -> str:
    """program.py for `program`; `runner` (compiler/runner.py) adds the mesh and the traced runner."""
    weights = program.weight_params
    ops = program.ops
    mask_input = next(i for i in program.inputs if "fill" in i)
    input_names = {i["name"] for i in program.inputs}
    layer_ops = [op for op in ops if op.layer == 0]
    if not layer_ops:
        raise ScheduleError("the model has no encoder layers to emit")
    first = ops.index(layer_ops[0])
    last_layer = max(op.layer for op in ops if op.layer is not None)
    after = max(i for i, op in enumerate(ops) if op.layer == last_layer) + 1
    pre, post = ops[:first], ops[after:]

    # The encoder layer body is rendered from layer 0 and must be identical for every layer.
    bodies = {}
    for layer in range(last_layer + 1):
        these = [op for op in ops if op.layer == layer]
        scope = _Scope(program, weights, layer, {o for op in these for o in op.outputs}, None, mask_input["name"], input_names)
        body = [line for op in these for line in _op_lines(op, scope)]
        body.append(f"return {scope.name(these[-1].outputs[0])}")
        bodies[layer] = body
    if any(body != bodies[0] for body in bodies.values()):
        bad = next(layer for layer, body in bodies.items() if body != bodies[0])
        raise ScheduleError(f"encoder layer {bad} lowers differently from layer 0; per-layer overrides are not supported")

    layer0_input = layer_ops[0].inputs[0]
    last_output = [op for op in ops if op.layer == last_layer][-1].outputs[0]
    global_scope = _Scope(program, weights, None, set(), last_output, mask_input["name"], input_names)
    pre_lines = [f'{_var(i["name"])} = inputs[{py_literal(i["name"])}]' for i in program.inputs]
    for op in pre:
        pre_lines += _op_lines(op, global_scope)
    pre_lines.append(f"hidden = {global_scope.name(layer0_input)}")
    post_lines = []
    for op in post:
        post_lines += _op_lines(op, global_scope)
    post_lines.append(f"return {global_scope.name(program.output_value)}")

    configs, seen = [], set()
    for op in ops:
        if op.program_config is not None and op.role not in seen:
            seen.add(op.role)
            configs.append({"name": _config_name(op.role), "expr": Code(op.program_config.expr("GRID"))})

    compute_configs, seen_families = [], set()
    for op in ops:
        cc = op.compute_config
        if cc is not None and cc.family not in seen_families:
            seen_families.add(cc.family)
            compute_configs.append({"name": cc.name, "expr": Code(cc.expr()), "family": cc.family})
    compute_configs.sort(key=lambda c: list(program.schedule.compute).index(c["family"]))
    head_width = "QA_OUTPUT_WIDTH" if program.task == "qa" else "HEAD_OUTPUT_WIDTH"
    qa_width = next((w.shape[-1] for w in program.weights if w.prep_attrs.get("pad_to")), 32)
    # Widths that reach the emitted source by name.
    names = {3 * program.hidden_size: "QKV_WIDTH", program.hidden_size: "HIDDEN_SIZE",
             program.intermediate_size: "INTERMEDIATE_SIZE"}
    if program.task != "embed":
        names.setdefault(qa_width, head_width)
    layers = layer_prefix(program)
    layer_weights = [w for w in program.weights if w.layer == 0]
    global_weights = [w for w in program.weights if w.layer is None]
    hidden_shard = next(op for op in ops if op.kind == "to_sharded").placement.shard_shape
    dev, sched = program.device, program.schedule
    ctx = dict(
        model_name=program.model_name, compiler_version=COMPILER_VERSION, device_name=dev.name, arch=dev.arch,
        device_grid=f"{dev.grid_x}x{dev.grid_y}", dispatch=dev.dispatch, ttnn_api=dev.ttnn_api, batch=program.batch,
        seq_len=program.seq_len, schedule_file=_display_path(sched.path), schedule_sha=sched.sha256[:16],
        precision=sched.precision, precision_sha=sched.precision_sha256[:16],
        config_hash=program.config_hash, grid=program.grid, orientation=program.orientation,
        grid_reason=program.grid_reason, peak_l1=program.peak_l1_bytes_per_core, l1_bytes=dev.l1_bytes_per_core,
        hidden=program.hidden_size, heads=program.num_heads, layers=program.num_layers,
        env_requirements=dev.select_env, hidden_shard=hidden_shard, program_configs=configs,
        global_weights=[dict(key=w.key, expr=Code(_weight_expr(w, False, names, layers, head_width)), dtype=w.dtype,
                             layout=_layout(w)) for w in global_weights],
        layer_weights=[dict(key=w.key, expr=Code(_weight_expr(w, True, names, layers, head_width)), dtype=w.dtype,
                            layout=_layout(w)) for w in layer_weights],
        architecture=program.architecture, task=program.task, head=program.head, positions=program.position_ids,
        layer_prefix=_dotted_name(layers),
        compute_configs=compute_configs, intermediate=program.intermediate_size, head_groups=program.hidden_cores,
        qa_width=qa_width, open_device=dev.open_device, grid_text=f"{dev.grid_x}x{dev.grid_y}",
        weight_memcfg=memcfg_name(program.weights[0].placement),
        ids_memcfg=memcfg_name(next(i for i in program.inputs if "fill" not in i)["placement"]),
        mask_name=mask_input["name"], mask_var=_var(mask_input["name"]), mask_fill=mask_input["fill"],
        mask_dtype=mask_input["dtype"], mask_memcfg=memcfg_name(mask_input["placement"]),
        layer_lines=[Code(x) for x in bodies[0]], layer_op_count=len(layer_ops), pre_lines=[Code(x) for x in pre_lines],
        post_lines=[Code(x) for x in post_lines], **_runner_context(runner),
    )
    return _ENV.get_template("program.py.jinja").render(**ctx)


def _runner_context(runner) -> dict:
    """Template values of the runner: the one-chip eager program unless the build is traced or on a mesh."""
    on_mesh = runner is not None and runner.on_mesh
    info = dict(on_mesh=on_mesh, trace=bool(runner and runner.trace))
    if on_mesh:
        info.update(rows=runner.mesh_shape[0], cols=runner.mesh_shape[1], chips=runner.chips,
                    command_queues=runner.command_queues, trace_region_size=runner.trace_region_size,
                    trace_ops=runner.trace_ops)
    return dict(runner=info, host_batch=Code("GLOBAL_BATCH" if on_mesh else "BATCH"),
                to_host=Code("ttnn.to_torch(output, mesh_composer=ttnn.concat_mesh_to_tensor_composer(device, 0))"
                             if on_mesh else "ttnn.to_torch(output)"),
                post_args=Code(", device" if on_mesh else ""))


def _layout(w: WeightSpec) -> str:
    return "TILE_LAYOUT" if w.tensor_layout == "TILE" else "ROW_MAJOR_LAYOUT"


def _display_path(path: Path | None) -> str:
    if path is None:
        return "<none>"
    root = Path(__file__).resolve().parent.parent
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return Path(path).name
