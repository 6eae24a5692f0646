"""The scheduled program: what lowering produces and what the emitter and manifest read."""
from __future__ import annotations

from dataclasses import dataclass, field

from kernels.common import Call, Placement, ProgramConfig


@dataclass
class WeightSpec:
    key: str                  # key in the weights dict (layer-local for encoder weights)
    layer: int | None
    sources: list[str]        # HF state-dict names
    prep: str                 # see compiler.weights.prepare
    prep_attrs: dict
    shape: tuple[int, ...]    # host shape handed to ttnn.from_torch
    dtype: str
    tensor_layout: str        # "TILE" | "ROW_MAJOR"
    placement: Placement


@dataclass
class ScheduledOp:
    name: str                 # stable op name, e.g. "layer3.ff1"
    kind: str                 # IR kind
    role: str                 # schedule key of the op ("ff1", "attention_probs", ...)
    layer: int | None
    module: str               # HF module it implements
    inputs: list[str]         # IR values read
    outputs: list[str]        # IR values written
    shapes: list[tuple[int, ...]]
    dtype: str
    placement: Placement
    program_config: ProgramConfig | None
    call: Call
    inplace: bool = False
    l1_bytes_per_core: int = 0          # of the output buffer(s) this op allocates
    frees: list[str] = field(default_factory=list)   # values deallocated right after this op
    live_l1_bytes_per_core: int = 0     # all live L1 buffers while this op runs
    math_fidelity: str | None = None
    compute_config: object | None = None     # kernels.compute.ComputeConfig of matmul / softmax / layernorm ops
    weights: list[str] = field(default_factory=list)
    output_placements: list[Placement] = field(default_factory=list)   # one per output (split_heads has three)


@dataclass
class Program:
    model_name: str
    config_hash: str
    architecture: str
    device: "object"
    schedule: "object"
    batch: int
    seq_len: int
    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    vocab_size: int
    grid: tuple[int, int]
    hidden_cores: int
    orientation: str
    inputs: list[dict]
    weights: list[WeightSpec]
    ops: list[ScheduledOp]
    output_value: str
    peak_l1_bytes_per_core: int = 0
    grid_reason: str = ""
    weight_params: dict = field(default_factory=dict)   # IR param node -> WeightSpec
    l1_plan: object | None = None                        # compiler.l1_plan.L1Plan: addresses, CBs, headroom per op
    task: str = "qa"                   # qa | embed | sequence-classification | token-classification
    head: dict = field(default_factory=dict)           # host step after the device: take_logits / pool and its attrs
    model_type: str = "bert"
    type_vocab_size: int = 2  # token types the embedding table holds (1: every token is type 0)
    position_ids: dict = field(default_factory=dict)   # how the host makes them: arange, or padding_offset + padding_idx
