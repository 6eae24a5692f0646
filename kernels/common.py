"""What every TT-NN op family shares: tiles, placements, L1 arithmetic and the emitted call."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

TILE = 32
# Bytes of one 32x32 tile per dtype (bfloat8_b: 1024 B of mantissas + 64 B of shared exponents).
TILE_BYTES = {"bfloat16": 2048, "bfloat8_b": 1088, "bfloat4_b": 576, "float32": 4096, "uint32": 4096}
ELEMENT_BYTES = {"bfloat16": 2, "float32": 4, "uint32": 4}
# Largest output subblock (h * w tiles) the matmul engine's destination registers hold.
MAX_SUBBLOCK_TILES = 8


def tiles(n: int) -> int:
    return math.ceil(n / TILE)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def largest_divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in divisors(n) if d <= limit)


def choose_subblock(per_core_m: int, per_core_n: int, limit: int = MAX_SUBBLOCK_TILES) -> tuple[int, int]:
    """Widest subblock first (fewest output row passes); taller than one tile only when it spans the
    whole per-core width, as sharded matmul outputs require.

    This reproduces every subblock of the reference configs (1x6, 1x8, 2x4, 4x2).
    """
    w = largest_divisor_at_most(per_core_n, limit)
    h = largest_divisor_at_most(per_core_m, max(1, limit // w)) if w == per_core_n else 1
    return h, w


@dataclass(frozen=True)
class Placement:
    """Where a tensor lives: buffer, memory layout, and (when sharded) its shard spec."""
    buffer: str                     # "DRAM" | "L1"
    layout: str                     # "INTERLEAVED" | "BLOCK_SHARDED" | "HEIGHT_SHARDED"
    tensor_layout: str = "TILE"     # "TILE" | "ROW_MAJOR"
    shard_shape: tuple[int, int] | None = None
    grid: tuple[int, int] | None = None
    orientation: str | None = None

    @property
    def sharded(self) -> bool:
        return self.layout != "INTERLEAVED"

    def as_dict(self) -> dict:
        d = {"buffer": self.buffer, "layout": self.layout, "tensor_layout": self.tensor_layout}
        if self.sharded:
            d.update(shard_shape=list(self.shard_shape), grid=list(self.grid), orientation=self.orientation)
        return d


DRAM = Placement("DRAM", "INTERLEAVED")
DRAM_ROW_MAJOR = Placement("DRAM", "INTERLEAVED", "ROW_MAJOR")
L1 = Placement("L1", "INTERLEAVED")
L1_ROW_MAJOR = Placement("L1", "INTERLEAVED", "ROW_MAJOR")


def l1_bytes_per_core(shape: tuple[int, ...], dtype: str, placement: Placement, l1_banks: int) -> int:
    """L1 bytes one core gives a tensor. TT-Metal's L1 allocator reserves the same address range on
    every bank (lockstep), so this is what each core loses, whether or not it holds data."""
    if placement.buffer != "L1":
        return 0
    if placement.sharded:
        h, w = placement.shard_shape
        if placement.tensor_layout == "TILE":
            return (h // TILE) * (w // TILE) * TILE_BYTES[dtype]
        return h * w * ELEMENT_BYTES[dtype]
    if placement.tensor_layout == "TILE":
        height = math.prod(shape[:-1])
        pages, page_bytes = tiles(height) * tiles(shape[-1]), TILE_BYTES[dtype]
    else:
        pages, page_bytes = math.prod(shape[:-1]), shape[-1] * ELEMENT_BYTES[dtype]
    return math.ceil(pages / l1_banks) * page_bytes


@dataclass
class Call:
    """One emitted TT-NN call: `outputs = func(*args, **kwargs)`; expressions are Python source."""
    func: str
    args: list[str]
    kwargs: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    comment: str = ""

    def source(self) -> str:
        parts = list(self.args) + [f"{k}={v}" for k, v in self.kwargs.items()]
        lhs = ", ".join(self.outputs)
        return f"{lhs + ' = ' if lhs else ''}{self.func}({', '.join(parts)})"


@dataclass
class ProgramConfig:
    """A TT-NN program config as data: the class name and its fields under ttnn's own names.

    The same object feeds legality checks, the manifest and the emitted constructor call, so the
    check and the call cannot drift apart.
    """
    ttnn_class: str
    fields: dict

    def as_dict(self) -> dict:
        out = {"type": self.ttnn_class}
        for k, v in self.fields.items():
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def expr(self, grid_name: str) -> str:
        parts = []
        for k, v in self.fields.items():
            if k == "compute_with_storage_grid_size":
                v = grid_name
            elif k == "fused_activation":
                # (GELU, True): the fast approximate SFPU GELU; (GELU, False): the accurate (erf) one.
                v = {"gelu": "(ttnn.UnaryOpType.GELU, True)", "gelu_erf": "(ttnn.UnaryOpType.GELU, False)", None: "None"}[v]
            else:
                v = repr(v)
            parts.append(f"{k}={v}")
        return f"ttnn.{self.ttnn_class}(" + ", ".join(parts) + ")"


class Violation(Exception):
    """A broken legality rule: which rule, with what numbers, and which schedule key controls it."""

    def __init__(self, rule: str, detail: str, key: str):
        self.rule, self.detail, self.key = rule, detail, key
        super().__init__(f"{rule} ({detail})")


def require(ok: bool, rule: str, detail: str, key: str) -> None:
    if not ok:
        raise Violation(rule, detail, key)


# ---- circular buffers ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CircularBuffer:
    """One circular buffer a tt-metal program factory creates on every core of the op.

    `aliases` names the tensor whose sharded L1 buffer the CB is placed on (the factory calls
    set_globally_allocated_address): such a CB takes no L1 of its own. Every other CB is carved from
    the program's CB region, which grows up from the allocator's L1 base."""
    index: int                      # tt::CBIndex::c_<index>
    name: str
    pages: int
    page_bytes: int
    aliases: str | None = None

    @property
    def bytes(self) -> int:
        return 0 if self.aliases else self.pages * self.page_bytes

    def as_dict(self) -> dict:
        d = {"cb": self.index, "name": self.name, "pages": self.pages, "page_bytes": self.page_bytes,
             "bytes": self.bytes}
        if self.aliases:
            d["aliases"] = self.aliases
        return d


def cb_bytes(cbs: list[CircularBuffer]) -> int:
    return sum(cb.bytes for cb in cbs)


def tile_bytes(fmt: str) -> int:
    """Bytes of one 32x32 tile of a tt-metal DataFormat or a ttnn dtype ("float16_b" is bfloat16's format)."""
    return TILE_BYTES["bfloat16" if fmt == "float16_b" else fmt]


def intermediate_format(fp32_dest_acc_en: bool) -> str:
    """The format most factories give their intermediate CBs: Float32 with fp32 accumulation, else Float16_b."""
    return "float32" if fp32_dest_acc_en else "float16_b"
