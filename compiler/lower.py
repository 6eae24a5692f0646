"""Lowering: TT-NN-level IR + device + schedule -> a scheduled program.

For every op it derives the placement, dtype and program config from the schedule and the tensor
shapes (through the op family's module in kernels/), inserts the layout conversions the chosen
placements need, decides where buffers are freed, and validates legality and the per-core L1 budget.
Each op calls the TT-NN function its kind's spec in compiler/ops.py names (checked after scheduling); the grid
and batch rules are compiler/target.py's. The IR is read, never edited: one passed graph serves every schedule.
Nothing here branches on a device name: only on the device description's numbers.
"""
from __future__ import annotations

from kernels import attention, layernorm, matmul, softmax
from kernels.compute import compute_config
from kernels.common import (DRAM, DRAM_ROW_MAJOR, L1, L1_ROW_MAJOR, TILE, Call, Placement, Violation,
                            l1_bytes_per_core)

from .errors import LegalityError, ScheduleError, UserError
from .ir import Graph
from .l1_plan import plan_l1
from .ops import HOST_KINDS, OPS
from .passes.pipeline import check_scheduled
from .passes.match import layer_of
from .program import Program, ScheduledOp, WeightSpec
from .schedule import Device, Schedule
from .target import check_typed_range, derive_grid


# Linears of the task heads: interleaved, without a program config (as the reference's QA head).
HEAD_ROLES = ("qa", "pooler", "classifier")
_HEAD_NAME = {"qa": "QA", "embed": "pooling", "sequence-classification": "classification",
              "token-classification": "token classification"}

_MEMCFG = {("DRAM", "INTERLEAVED"): "DRAM_MEMCFG", ("L1", "INTERLEAVED"): "L1_MEMCFG",
           ("L1", "BLOCK_SHARDED"): "BLOCK_SHARDED_MEMCFG", ("L1", "HEIGHT_SHARDED"): "HEIGHT_SHARDED_MEMCFG"}


def memcfg_name(p: Placement) -> str:
    return _MEMCFG[(p.buffer, p.layout)]


def ref(value: str) -> str:
    """A reference to an IR value inside a call expression; the emitter turns it into a variable."""
    return f"%{value}%"


def _placement_for(kind: str) -> Placement:
    return {"DRAM": DRAM, "L1_INTERLEAVED": L1}[kind]


class _Lowering:
    def __init__(self, graph: Graph, device: Device, schedule: Schedule, batch: int):
        m = graph.meta
        self.g, self.device, self.schedule, self.batch = graph, device, schedule, batch
        self.seq, self.hidden, self.heads = m["seq_len"], m["hidden_size"], m["num_heads"]
        self.task = m.get("task") or "qa"
        self.head: dict = {}                     # what the host does with the device output (take_logits / pool)
        self.head_dim = self.hidden // self.heads
        self.grid, self.cores, self.grid_reason = derive_grid(device, schedule, self.hidden, self.heads, batch)
        self.orientation = schedule.shard_orientation
        self.transpose_mcast = self.orientation == "COL_MAJOR"
        self.dt = schedule.dtypes
        self.compute = {}
        for family, settings in schedule.compute.items():
            if family == "attention_matmul":   # what it does not set, it takes from the schedule's matmul settings
                settings = {**schedule.compute.get("matmul", {}), **settings}
            try:
                self.compute[family] = compute_config(family, settings, arch=device.arch)
            except Violation as v:
                raise LegalityError(f"{family} ops", v.rule, v.detail, v.key) from None
        if self.compute["attention_matmul"].fields == self.compute["matmul"].fields:
            self.compute["attention_matmul"] = self.compute["matmul"]   # one MATMUL_COMPUTE_CONFIG for every matmul
        # ttnn 0.81 layernorm reduction fields; API v0.55's LayerNormShardedMultiCoreProgramConfig has none.
        self.ln_reduction = dict(schedule.layernorm_reduction) if device.ttnn_api != "v0.55" else None
        self.ops: list[ScheduledOp] = []
        self.weights: dict[str, WeightSpec] = {}
        self.place: dict[str, Placement] = {}
        self.dtype: dict[str, str] = {}
        self.alias: dict[str, str] = {}          # value -> converted value that replaces it downstream
        self.inputs: list[dict] = []
        self.extra_shapes: dict[str, tuple] = {}  # shapes of values lowering adds (conversions, device mask)

    # ---- helpers ----------------------------------------------------------------------------
    def arg(self, v: str) -> str:
        return self.alias.get(v, v)

    def block(self, width: int) -> Placement:
        return Placement("L1", "BLOCK_SHARDED", "TILE", (self.seq, width // self.cores), self.grid, self.orientation)

    def height(self, rows: int, width: int) -> Placement:
        return Placement("L1", "HEIGHT_SHARDED", "TILE", (rows, width), self.grid, self.orientation)

    def override(self, role: str) -> dict:
        return dict(self.schedule.overrides.get(role, {}))

    def out_dtype(self, role: str, default: str) -> str:
        return self.override(role).get("dtype", default)

    def weight(self, param: str, *, dtype: str, shape, layout: str = "TILE", prep: dict | None = None) -> str:
        """Record how the program prepares `param`; `prep` adds preparation attributes the schedule decides
        (the graph itself is not edited: the same passed graph is lowered for many schedules)."""
        d = self.g[param]
        layer = layer_of(d["attrs"]["sources"][0])
        key = param
        if layer is not None:
            key = key[len(f"layer{layer}."):] if key.startswith(f"layer{layer}.") else key
            # HF names of any family's layer tensors (bert.encoder.layer.3., roberta.encoder.layer.3., encoder.layer.3.)
            key = key.split(f"encoder.layer.{layer}.", 1)[-1]
        placement = _placement_for(self.schedule.placement["weights"])
        if layout == "ROW_MAJOR":
            placement = DRAM_ROW_MAJOR if placement.buffer == "DRAM" else L1_ROW_MAJOR
        prep_attrs = {**{k: v for k, v in d["attrs"].items() if k not in ("sources", "prep")}, **(prep or {})}
        self.weights[param] = WeightSpec(key, layer, list(d["attrs"]["sources"]), d["attrs"]["prep"], prep_attrs,
                                         tuple(shape), dtype, layout, placement)
        self.place[param], self.dtype[param] = placement, dtype
        return param

    def emit(self, n: str | None, *, kind: str, role: str, inputs, outputs, shapes, dtype, placement, call,
             config=None, inplace=False, weights=(), name=None, layer=None, module="", placements=None,
             compute=None) -> ScheduledOp:
        d = self.g[n] if n else {}
        if compute is not None:
            call.kwargs["compute_kernel_config"] = f"%compute:{self.compute[compute].family}%"   # shared configs share a name
        op = ScheduledOp(name=name or n, kind=kind, role=role, layer=layer_of(d.get("module", "")) if n else layer,
                         module=d.get("module", module), inputs=list(inputs), outputs=list(outputs),
                         shapes=[tuple(s) for s in shapes], dtype=dtype, placement=placement,
                         program_config=config, call=call, inplace=inplace, weights=list(weights),
                         math_fidelity=self.compute[compute].fields["math_fidelity"] if compute else None,
                         compute_config=self.compute[compute] if compute else None,
                         output_placements=list(placements or [placement] * len(outputs)))
        for o, p in zip(outputs, op.output_placements):
            self.place[o], self.dtype[o] = p, dtype
        self.ops.append(op)
        return op

    def derive(self, op_name: str, role: str, fn, **kw):
        try:
            return fn(override=self.override(role), key=f"overrides.{role}", **kw)
        except Violation as v:
            raise LegalityError(op_name, v.rule, v.detail, v.key) from None

    # ---- layout conversions -----------------------------------------------------------------
    def ensure_block_sharded(self, v: str) -> str:
        v = self.arg(v)
        if self.place[v].layout == "BLOCK_SHARDED":
            return v
        shape = self.g[v]["shape"] if v in self.g else None
        new = f"{v}.sharded"
        placement = self.block(self.hidden)
        dtype = self.dt["activations"]
        # 4-D [B, 1, S, H] from here on, as the head split's kernels read it (their S is the padded dim 2).
        call = Call(OPS["to_sharded"].ttnn, [f"ttnn.reshape({ref(v)}, (BATCH, 1, SEQ_LEN, HIDDEN_SIZE))",
                                                    "HIDDEN_SHARDED_MEMCFG", f"ttnn.{dtype}"], outputs=[ref(new)],
                    comment="block-shard the hidden states: one sequence per core row, hidden split across columns")
        self.emit(None, kind="to_sharded", role="to_sharded", inputs=[v], outputs=[new], shapes=[shape], dtype=dtype,
                  placement=placement, call=call, name=f"{v}_to_sharded", module=self.g[v]["module"] if v in self.g else "")
        self.alias[v] = new
        self.extra_shapes[new] = shape
        return new

    def ensure_interleaved(self, v: str) -> str:
        v = self.arg(v)
        if not self.place[v].sharded:
            return v
        new = f"{v}.interleaved"
        placement = _placement_for(self.schedule.placement["qa_head"])
        call = Call(OPS["to_interleaved"].ttnn, [ref(v), memcfg_name(placement)], outputs=[ref(new)],
                    comment=f"gather the encoder output for the {_HEAD_NAME.get(self.task, self.task)} head")
        self.emit(None, kind="to_interleaved", role="to_interleaved", inputs=[v], outputs=[new],
                  shapes=[self.shape(v)], dtype=self.dtype[v], placement=placement, call=call,
                  name="encoder_to_interleaved", module="bert.encoder")
        self.alias[v] = new
        self.extra_shapes[new] = self.shape(v)
        return new

    def shape(self, v: str):
        return self.extra_shapes.get(v) or self.g[v]["shape"]

    # ---- op families ------------------------------------------------------------------------
    def input(self, n: str) -> None:
        d = self.g[n]
        b, s = d["shape"]
        placement = L1_ROW_MAJOR if self.schedule.placement["embeddings"] == "L1_INTERLEAVED" else DRAM_ROW_MAJOR
        self.place[n], self.dtype[n] = placement, "uint32"
        self.inputs.append({"name": n, "shape": [b, s], "dtype": "uint32", "layout": "ROW_MAJOR",
                            "placement": placement, "synthesized": d["attrs"].get("synthesized"),
                            "position_ids": {k: v for k, v in d["attrs"].items() if k in ("synthesized", "padding_idx")}})

    def attention_mask(self, n: str) -> None:
        b, _, _, s = self.g[n]["shape"]
        placement = L1_ROW_MAJOR if self.schedule.placement["attention_mask"] == "L1_INTERLEAVED" else DRAM_ROW_MAJOR
        dtype = self.dt["attention_mask"]
        self.place[n], self.dtype[n] = placement, dtype
        self.extra_shapes[n] = (b, 1, s // TILE, TILE)
        self.inputs.append({"name": n, "shape": [b, 1, s // TILE, TILE], "dtype": dtype, "layout": "ROW_MAJOR",
                            "placement": placement, "fill": self.g.attrs(n)["fill"], "source": self.g.args(n)[0]})

    def embedding(self, n: str) -> None:
        ids, table = self.g.args(n)
        v, h = self.g[table]["shape"]
        self.weight(table, dtype=self.dt["embedding_tables"], shape=(v, h), layout="ROW_MAJOR")
        placement = _placement_for(self.schedule.placement["embeddings"])
        call = Call(OPS["embedding"].ttnn, [ref(ids), ref(table)],
                    {"layout": "ttnn.TILE_LAYOUT", "memory_config": memcfg_name(placement)}, [ref(n)])
        self.emit(n, kind="embedding", role="embeddings", inputs=[ids], outputs=[n], shapes=[self.g[n]["shape"]],
                  dtype=self.dt["embeddings_output"], placement=placement, call=call, weights=[table])

    def add(self, n: str) -> None:
        a, b = (self.arg(x) for x in self.g.args(n))
        placement = self.place[a]
        call = Call(OPS["add"].ttnn, [ref(a), ref(b)], {"memory_config": memcfg_name(placement)}, [ref(n)])
        self.emit(n, kind="add", role="embeddings", inputs=[a, b], outputs=[n], shapes=[self.g[n]["shape"]],
                  dtype=self.dtype[a], placement=placement, call=call)

    def layer_norm(self, n: str) -> None:
        attrs = self.g.attrs(n)
        args = list(self.g.args(n))
        gamma, beta = args[-2:]
        x = self.arg(args[0])
        residual = self.arg(args[1]) if attrs["residual"] else None
        hidden = self.g[n]["shape"][-1]
        for p in (gamma, beta):
            self.weight(p, dtype=self.dt["layernorm_params"], shape=(1, 1, hidden // TILE, TILE), layout="ROW_MAJOR")
        kwargs = {}
        if residual:
            kwargs["residual_input_tensor"] = ref(residual)
        kwargs.update(weight=ref(gamma), bias=ref(beta), epsilon=repr(attrs["eps"]))
        role = n.split(".")[-1] if layer_of(self.g[n]["module"]) is not None else "embeddings"
        if self.place[x].layout == "BLOCK_SHARDED":
            block_w = hidden // self.cores // TILE
            config = self.derive(n, role, layernorm.layernorm_config, grid=self.grid, block_h=self.seq // TILE, block_w=block_w,
                                 max_subblock=self.compute["layernorm"].max_subblock_tiles, reduction=self.ln_reduction)
            placement, dtype, inplace = self.place[x], self.out_dtype(role, self.dt["activations"]), True
            kwargs.update(memory_config=memcfg_name(placement), program_config=f"%config:{role}%")
        else:
            config, placement, dtype, inplace = None, self.place[x], self.dt["embeddings_output"], False
            kwargs.update(memory_config=memcfg_name(placement))
        call = Call(OPS["layer_norm"].ttnn, [ref(x)], kwargs, [ref(n)])
        self.emit(n, kind="layer_norm", role=role, inputs=[x] + ([residual] if residual else []), outputs=[n],
                  shapes=[self.g[n]["shape"]], dtype=dtype, placement=placement, call=call, config=config,
                  inplace=inplace, weights=[gamma, beta], compute="layernorm")

    def linear(self, n: str) -> None:
        attrs = self.g.attrs(n)
        role = attrs["role"]
        x, w, b = self.g.args(n)
        k, n_out = self.g[w]["shape"]
        bsz, seq, _ = self.g[n]["shape"]
        if role in HEAD_ROLES:
            x = self.ensure_interleaved(x)
            self.weight(w, dtype=self.dt["weights"], shape=(k, n_out))
            self.weight(b, dtype=self.dt["weights"], shape=(1, 1, 1, n_out))
            placement = _placement_for(self.schedule.placement["qa_head"])
            dtype = self.out_dtype(role, self.dt["qa_output"])
            kwargs = {"bias": ref(b), "memory_config": memcfg_name(placement), "dtype": f"ttnn.{dtype}"}
            if attrs.get("activation"):
                kwargs["activation"] = repr(attrs["activation"])   # the pooler's tanh, fused as the device does
            call = Call(OPS["linear"].ttnn, [ref(x), ref(w)], kwargs, [ref(n)])
            self.emit(n, kind="linear", role=role, inputs=[x], outputs=[n], shapes=[self.g[n]["shape"]], dtype=dtype,
                      placement=placement, call=call, weights=[w, b], compute="matmul")
            return
        if k % TILE or n_out % TILE:   # block-sharded linears split whole 32-wide tiles across cores
            key = "intermediate_size" if role in ("ff1", "ff2") else "hidden_size"
            raise UserError(f"model config: the {role} linear is {k} x {n_out}, not whole {TILE}-wide tiles; "
                            f"config.json '{key}' must be a multiple of {TILE} for this compiler")
        x = self.ensure_block_sharded(x)
        # The fused QKV weights hold one [q_g | k_g | v_g] block per hidden core column (compiler/weights.py).
        prep = {"groups": self.cores} if role == "qkv" else None
        self.weight(w, dtype=self.dt["weights"], shape=(k, n_out), prep=prep)
        self.weight(b, dtype=self.dt["weights"], shape=(1, 1, 1, n_out), prep=prep)
        config = self.derive(n, role, matmul.linear_config, m_tiles=bsz * seq // TILE, k_tiles=k // TILE,
                             n_tiles=n_out // TILE, grid=self.grid, hidden_cores=self.cores, batch_cores=self.batch,
                             transpose_mcast=self.transpose_mcast, activation=self.activation(attrs.get("activation")),
                             max_subblock=self.compute["matmul"].max_subblock_tiles)
        placement = self.block(n_out)
        dtype = self.out_dtype(role, self.dt["activations"])
        call = Call(OPS["linear"].ttnn, [ref(x), ref(w)], {"bias": ref(b), "program_config": f"%config:{role}%",
                                                      "memory_config": memcfg_name(placement), "dtype": f"ttnn.{dtype}"}, [ref(n)])
        self.emit(n, kind="linear", role=role, inputs=[x], outputs=[n], shapes=[self.g[n]["shape"]], dtype=dtype,
                  placement=placement, call=call, config=config, weights=[w, b], compute="matmul")

    def activation(self, fused: str | None) -> str | None:
        """The traced GELU is HF's erf GELU; the schedule says which device GELU computes it."""
        if fused != "gelu":
            return fused
        return "gelu" if self.schedule.gelu == "fast_approximate" else "gelu_erf"

    def split_heads(self, n: str) -> None:
        qkv = self.arg(self.g.args(n)[0])
        try:
            attention.check_head_layout(hidden=self.hidden, num_heads=self.heads, hidden_cores=self.cores,
                                        key="activation_grid.hidden_cores")
        except Violation as v:
            raise LegalityError(n, v.rule, v.detail, v.key) from None
        outs = sorted(self.g.users(n), key=lambda u: self.g.attrs(u)["index"])
        per_core_heads = self.heads // self.cores
        s, d = self.seq, self.head_dim
        placements = [self.height(per_core_heads * s, d), self.height(per_core_heads * d, s), self.height(per_core_heads * s, d)]
        dtype = self.dtype[qkv]
        # The experimental op is the one whose sharded path reads the grouped QKV layout prepare_weights writes
        # (each core column's shard is [q_g | k_g | v_g]); ttnn.transformer's sharded path expects heads
        # interleaved (q1 k1 v1 ...) instead (runtime/emulator/ttnn/transformer.py cites both).
        call = Call(OPS["split_heads"].ttnn, [ref(qkv), "GRID"],
                    {"num_heads": "NUM_HEADS", "memory_config": "HEIGHT_SHARDED_MEMCFG"}, [ref(o) for o in outs])
        self.emit(n, kind="split_heads", role="split_heads", inputs=[qkv], outputs=outs,
                  shapes=[self.g[o]["shape"] for o in outs], dtype=dtype, placement=placements[0], call=call,
                  placements=placements)

    def matmul(self, n: str) -> None:
        role = self.g.attrs(n)["role"]
        a, b = (self.arg(v) for v in self.g.args(n))
        per_core_heads = self.heads // self.cores
        s, d = self.seq, self.head_dim
        k, n_cols = matmul.attention_kn(role, seq=s, head_dim=d)
        config = self.derive(n, role, matmul.batched_config, rows_per_head_tiles=s // TILE, heads_per_core=per_core_heads,
                             k_tiles=k // TILE, n_tiles=n_cols // TILE, grid=self.grid,
                             total_m_tiles=self.batch * self.heads * s // TILE,
                             max_subblock=self.compute["attention_matmul"].max_subblock_tiles)
        placement = self.height(per_core_heads * s, n_cols)
        dtype = self.out_dtype(role, self.dt["activations"])
        call = Call(OPS["matmul"].ttnn, [ref(a), ref(b)], {"program_config": f"%config:{role}%",
                                                        "memory_config": "HEIGHT_SHARDED_MEMCFG", "dtype": f"ttnn.{dtype}"},
                    [ref(n)])
        self.emit(n, kind="matmul", role=role, inputs=[a, b], outputs=[n], shapes=[self.g[n]["shape"]], dtype=dtype,
                  placement=placement, call=call, config=config, compute="attention_matmul")

    def scale_mask_softmax(self, n: str) -> None:
        scores, mask = (self.arg(v) for v in self.g.args(n))
        role = "attention_probs"
        per_core_heads = self.heads // self.cores
        config = self.derive(n, role, softmax.softmax_config, grid=self.grid,
                             block_h=per_core_heads * self.seq // TILE, block_w=self.seq // TILE,
                             max_subblock=self.compute["softmax"].max_subblock_tiles)
        # numeric_stable=True subtracts the row max before exp; without it (0.81's default) the kernel exponentiates
        # the raw scores, and real checkpoints' scores overflow to inf/NaN (measured: MiniLM SQuAD on GS b12).
        call = Call(OPS["scale_mask_softmax"].ttnn, [ref(scores), repr(self.g.attrs(n)["scale"]), ref(mask)],
                    {"program_config": f"%config:{role}%", "numeric_stable": "True"}, [ref(n)])
        self.emit(n, kind="scale_mask_softmax", role=role, inputs=[scores, mask], outputs=[n],
                  shapes=[self.g[n]["shape"]], dtype=self.dtype[scores], placement=self.place[scores], call=call,
                  config=config, inplace=True, compute="softmax")

    def concat_heads(self, n: str) -> None:
        x = self.arg(self.g.args(n)[0])
        placement = self.block(self.hidden)
        # nlp_concat_heads (metal_BERT_large_11's call) keeps the 4-D [B, 1, S, H] the linears and layernorms take.
        call = Call(OPS["concat_heads"].ttnn, [ref(x)], {"memory_config": memcfg_name(placement)}, [ref(n)])
        self.emit(n, kind="concat_heads", role="concat_heads", inputs=[x], outputs=[n], shapes=[self.g[n]["shape"]],
                  dtype=self.dtype[x], placement=placement, call=call)

    # ---- driver -----------------------------------------------------------------------------
    def run(self) -> None:
        handlers = {"embedding": self.embedding, "add": self.add, "layer_norm": self.layer_norm, "linear": self.linear,
                    "split_heads": self.split_heads, "matmul": self.matmul, "scale_mask_softmax": self.scale_mask_softmax,
                    "concat_heads": self.concat_heads, "attention_mask": self.attention_mask}
        for n in self.g.nodes():
            kind = self.g.kind(n)
            if kind == "input":
                if any(self.g.kind(u) not in HOST_KINDS for u in self.g.users(n)):
                    self.input(n)
            elif kind in handlers:
                handlers[kind](n)
            elif kind == "split_logits":
                self.output_value = self.arg(self.g.args(n)[0])
            elif kind == "take_logits":
                self.output_value = self.arg(self.g.args(n)[0])
                self.head = {"kind": "take_logits", **self.g.attrs(n)}
            elif kind == "pool":
                self.output_value = self.ensure_interleaved(self.g.args(n)[0])
                self.head = {"kind": "pool", **self.g.attrs(n)}
            elif kind in ("param", "buffer", "getitem", "output"):
                continue
            else:
                raise ScheduleError(f"op {n} of kind '{kind}' has no TT-NN lowering")


def plan_buffers(program_ops: list[ScheduledOp], device: Device, inputs: list[dict], weights: list[WeightSpec]) -> int:
    """Decide where each buffer is freed and measure live L1 per core at every op; returns the peak.

    In-place ops alias their output to their first input's buffer. Values made outside the encoder
    layer that reads them last (the mask, shared by every layer) are freed after the layer loop,
    so that every layer's code is the same; a layer's own input is freed inside it.
    """
    banks = device.cores
    buffer_of: dict[str, str] = {}
    size: dict[str, int] = {}
    for inp in inputs:
        buffer_of[inp["name"]] = inp["name"]
        size[inp["name"]] = l1_bytes_per_core(tuple(inp["shape"]), inp["dtype"], inp["placement"], banks)
    for op in program_ops:
        op.l1_bytes_per_core = 0
        for out, shp, p in zip(op.outputs, op.shapes, op.output_placements):
            if op.inplace:
                buffer_of[out] = buffer_of[op.inputs[0]]
                continue
            buffer_of[out] = out
            size[out] = l1_bytes_per_core(shp, op.dtype, p, banks)
            op.l1_bytes_per_core += size[out]
    last: dict[str, int] = {}
    layer_input: dict[int, str] = {}
    for i, op in enumerate(program_ops):
        for v in op.inputs:
            last[buffer_of[v]] = i
        if op.role == "qkv" and op.layer is not None:
            layer_input[op.layer] = buffer_of[op.inputs[0]]
    producer_layer = {buffer_of[o]: op.layer for op in program_ops for o in op.outputs if not op.inplace}
    after_loop = next((i for i, op in enumerate(program_ops) if op.layer is None and i > 0
                       and program_ops[i - 1].layer is not None), None)
    latest_alias = {}
    for op in program_ops:
        for o in op.outputs:
            latest_alias[buffer_of[o]] = o
    for inp in inputs:
        latest_alias.setdefault(inp["name"], inp["name"])
    frees_after: dict[int, list[str]] = {}
    frees_before: dict[int, list[str]] = {}
    callers = {inp["name"] for inp in inputs}
    for buf, i in last.items():
        if buf in callers:   # the caller's inputs: forward reads them and leaves them allocated (a trace replays on them)
            continue
        op = program_ops[i]
        outside = op.layer is not None and producer_layer.get(buf) != op.layer and layer_input.get(op.layer) != buf
        if outside and after_loop is not None:
            frees_before.setdefault(after_loop, []).append(latest_alias[buf])
        else:
            frees_after.setdefault(i, []).append(latest_alias[buf])
    weight_l1 = sum(l1_bytes_per_core(w.shape, w.dtype, w.placement, banks) for w in weights)
    live = {inp["name"]: size[inp["name"]] for inp in inputs}
    peak = 0
    for i, op in enumerate(program_ops):
        op.frees_before = sorted(frees_before.get(i, []))
        for v in op.frees_before:
            live.pop(buffer_of[v], None)
        for o in op.outputs:
            if not op.inplace:
                live[o] = size[o]
        op.live_l1_bytes_per_core = weight_l1 + sum(live.values())
        peak = max(peak, op.live_l1_bytes_per_core)
        op.frees = sorted(frees_after.get(i, []), key=lambda v: v)
        for v in op.frees:
            live.pop(buffer_of[v], None)
        if op.live_l1_bytes_per_core > device.l1_usable_bytes:
            key = "placement.attention" if op.role.startswith("attention") or op.role == "split_heads" else "dtypes.activations"
            raise LegalityError(op.name, "live L1 per core <= usable L1 (L1 minus the allocator's reserved base)",
                                f"{op.live_l1_bytes_per_core} B > {device.l1_usable_bytes} B on {device.name}", key)
    return peak


def lower(graph: Graph, device: Device, schedule: Schedule, batch: int, *, model_name: str, config_hash: str) -> Program:
    check_typed_range(device, batch, error=ScheduleError)
    if graph.meta["seq_len"] != schedule.seq_len:
        raise ScheduleError(f"graph traced at seq_len {graph.meta['seq_len']} but schedule says {schedule.seq_len}")
    lw = _Lowering(graph, device, schedule, batch)
    lw.run()
    check_scheduled(lw.ops)
    weights = list(lw.weights.values())
    peak = plan_buffers(lw.ops, device, lw.inputs, weights)
    l1 = l1_plan(lw, weights)
    if l1.error:
        e = l1.error
        rule = ("circular buffers fit below the lowest L1 buffer" if e["kind"] == "clash"
                else "every L1 buffer gets a free block")
        raise LegalityError(e["op"], rule, e["detail"], e["key"])
    m = graph.meta
    return Program(model_name=model_name, config_hash=config_hash, architecture=m["architecture"], device=device,
                   schedule=schedule, batch=batch, seq_len=m["seq_len"], hidden_size=m["hidden_size"],
                   num_heads=m["num_heads"], num_layers=m["num_layers"], intermediate_size=m["intermediate_size"],
                   vocab_size=m["vocab_size"], grid=lw.grid, hidden_cores=lw.cores, orientation=lw.orientation,
                   inputs=lw.inputs, weights=weights, ops=lw.ops, output_value=lw.output_value,
                   peak_l1_bytes_per_core=peak, grid_reason=lw.grid_reason, weight_params=dict(lw.weights),
                   l1_plan=l1, task=lw.task, head=lw.head, model_type=m.get("model_type", "bert"),
                   type_vocab_size=m.get("type_vocab_size", 2),
                   position_ids=next((dict(i["position_ids"]) for i in lw.inputs if i["name"] == "position_ids"), {}))


def l1_plan(lw: "_Lowering", weights, *, reserve_before_qkv: bool = False):
    """The allocator's plan of this lowering (compiler/l1_plan.py), with the lowering's dtypes and placements."""
    return plan_l1(lw.ops, lw.inputs, weights, lw.device, dtype_of=lw.dtype.__getitem__,
                   placement_of=lw.place.__getitem__, shape_of=lw.shape,
                   weight_dtype=lambda param: lw.weights[param].dtype,
                   layernorm_reduction=lw.ln_reduction, reserve_before_qkv=reserve_before_qkv)
