"""Predict the device-kernel time of a built program, op by op, without a device.

Every op is priced from first principles on one core (all cores of a sharded op do the same work) as three
costs that overlap, plus a fixed start-up cost:

    op time = kernel launch + max(compute, DRAM, NoC)

- compute: the Tensix pipeline (unpack -> math -> pack, three threads that overlap). A matmul works per K block
  (`in0_block_w` tiles of K) and output subblock: the unpacker feeds h + w source tiles per K tile, the matrix
  engine does h*w tile products per K tile at the op's math fidelity (`rates.matmul_tile_cycles` of the device
  file), the packer writes the h*w partials once per block; the slowest of the three sets the pace, and each
  `matmul_block` call adds a fixed cost. Fused bias and GELU run once on the output. Softmax and layernorm are
  passes of the FPU (eltwise, broadcast, reduce at HiFi4) and the SFPU (exp, reciprocal, rsqrt) over L1 tiles.
- DRAM: the bytes an op reads from DRAM (weights in their dtype's tile bytes: bfloat8_b 1088 B, bfloat16
  2048 B; embedding rows) at the device's DRAM bandwidth, capped by what its reader cores pull from
  interleaved banks.
- NoC: the bytes a core receives or moves: activation blocks multicast along the grid rows and weight blocks
  along the columns of a 2D-multicast matmul, data movement (head split/concat, resharding) through L1, the
  layernorm statistics exchanged across the hidden cores, with a handshake per multicast block.

The device files give what hardware documentation gives (clock, DRAM bandwidth, NoC bytes per cycle, matmul
cycles per tile per fidelity, op-to-op dispatch); `CONSTANTS` below holds the rest, ONE set shared by every
device. Its matmul, launch, DRAM and SFPU exp constants are fitted on Tenstorrent's per-op micro-benchmarks
(compiler/cost_fit.py, compiler/cost_data/); the end-to-end BERT figures are held out for validation
(benchmarks/cost_model_validation.py). The published figures are batch / (sum of device kernel durations),
without the gaps between ops, so `predicted_samples_per_s` is too; the op-to-op dispatch gap
(`rates.op_dispatch_us`) is reported beside it, never inside it.

The model reads a manifest (the dict `compiler.manifest` writes) and a `schedule.Device`, so it prices a
fresh build and an old build directory alike (`python -m compiler explain BUILD_DIR`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import yaml

from kernels.common import TILE, TILE_BYTES
from kernels.matmul import ATTENTION_ROLES, attention_kn

from .errors import UserError

MODEL_VERSION = 2


@dataclass(frozen=True)
class Constants:
    """Cycle costs the device files do not give: one set for every device (no per-target factors).

    The defaults below are priors (round values inside each cost's plausible range). The constants in `FITTED`
    are then fitted by least squares on Tenstorrent's published per-op micro-benchmarks
    (compiler/cost_data/microbench.yaml: GEMM utilization per size, dtype and fidelity on an 8x8 N150; DRAM
    bandwidth) by compiler/cost_fit.py, which writes compiler/cost_data/constants.yaml; `CONSTANTS` is the priors
    with that file applied. No end-to-end BERT figure enters the fit: benchmarks/cost_model_validation.py
    checks the model against them as held-out data.
    """
    # L1 bytes the unpacker moves into a source register per cycle: unpacking one tile costs its dtype's tile
    # bytes over this (bfloat16 2048 B, bfloat8_b 1088 B). It bounds a matmul whose subblocks reuse too few
    # tiles (h + w unpacks per h * w tile products) and every FPU pass over tiles in L1.
    unpack_bytes_per_cycle: float = 64.0
    # Packing one tile from the destination register to L1; the packer runs beside math, so it only shows
    # when it is the slowest of the three threads.
    pack_tile_cycles: float = 24.0
    # Fixed cost of one matmul_block call (one subblock, one K tile): LLK set-up, dst acquire/release,
    # semaphores between the unpack, math and pack threads.
    matmul_call_cycles: float = 96.0
    # SFPU cost per tile (1024 values) of one transcendental, approximate mode as the reference runs it (exp is
    # fitted on tt-llk's measured cycles per tile; GELU and reciprocal stay priors).
    sfpu_exp_tile_cycles: float = 512.0
    sfpu_gelu_tile_cycles: float = 256.0
    sfpu_recip_tile_cycles: float = 192.0
    # Per-pass overhead of an FPU pass over a block of tiles (CB waits, dst acquire) per subblock.
    pass_call_cycles: float = 24.0
    # Kernel start-up inside the measured kernel duration: firmware launch, circular buffer set-up, the first
    # handshakes. (The op-to-op dispatch gap is separate: rates.op_dispatch_us of the device file.)
    kernel_launch_cycles: float = 2000.0
    # Round-trip of a multicast handshake (sender waits for the receivers' semaphore, sends, signals).
    mcast_sync_cycles: float = 300.0
    # Fraction of the nominal DRAM bandwidth a whole-chip read achieves.
    dram_efficiency: float = 0.85
    # What one reader core pulls from interleaved DRAM banks: bytes per cycle, and a fixed cost per tile page
    # requested (address generation, NoC request, barrier), so small tiles (bfloat4_b) cost more per byte.
    dram_reader_bytes_per_cycle: float = 25.6
    dram_reader_tile_cycles: float = 10.0
    # Fraction of a NoC link's bytes per cycle that an op's multicasts and L1-to-L1 moves achieve.
    noc_efficiency: float = 0.8


# The constants compiler/cost_fit.py fits on the micro-benchmark table; the others stay at their priors
# (the table holds no measurement that moves them; `explain --why` shows how much each one matters).
FITTED = ("unpack_bytes_per_cycle", "matmul_call_cycles", "kernel_launch_cycles", "dram_reader_bytes_per_cycle",
          "dram_reader_tile_cycles", "dram_efficiency", "sfpu_exp_tile_cycles")
FITTED_FILE = Path(__file__).parent / "cost_data" / "constants.yaml"


def load_constants(path: Path = FITTED_FILE) -> Constants:
    """The priors with the fitted values of `path` (written by `python -m compiler.cost_fit --write`)."""
    if not path.is_file():
        return Constants()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    fitted = data.get("constants") or {}
    unknown = set(fitted) - set(FITTED)
    if unknown:
        raise UserError(f"{path}: unknown fitted constants {sorted(unknown)}; rerun python -m compiler.cost_fit --write")
    return replace(Constants(), **{k: float(v) for k, v in fitted.items()})


CONSTANTS = load_constants()

# FPU rates relative to one tile matmul at LoFi (tech_reports/matrix_engine.md, Wormhole: matmul 8x16x16 per
# cycle = 16 cycles per tile; eltwise 8x16 per cycle = 8 cycles per tile; reduce 16x16 per cycle = 4 cycles
# per tile). Multiplies and reductions repeat per fidelity phase, adds do not. The same proportions are
# assumed on Grayskull, whose tile-matmul rate comes from its device file.
_ELTWISE_PER_MATMUL = 0.5
_REDUCE_PER_MATMUL = 0.25
_PHASES = {"LoFi": 1, "HiFi2": 2, "HiFi3": 3, "HiFi4": 4}
# Softmax and layernorm run HiFi4 in ttnn's defaults (tt-bert-reference.md §1) unless the op says otherwise.
_NORM_FIDELITY = "HiFi4"

BOTTLENECKS = ("compute", "DRAM", "NoC")


@dataclass
class OpCost:
    name: str
    role: str
    kind: str
    ttnn_op: str
    layer: int | None
    compute_us: float
    dram_us: float
    noc_us: float
    launch_us: float
    l1_bytes_per_core: int = 0
    live_l1_bytes_per_core: int = 0
    detail: str = ""

    @property
    def us(self) -> float:
        return self.launch_us + max(self.compute_us, self.dram_us, self.noc_us)

    @property
    def bottleneck(self) -> str:
        parts = {"compute": self.compute_us, "DRAM": self.dram_us, "NoC": self.noc_us}
        return max(BOTTLENECKS, key=lambda k: parts[k])


@dataclass
class Prediction:
    device: str
    batch: int
    ops: list[OpCost]
    op_dispatch_us: float                # per op, from the device file
    constants: Constants = field(default_factory=lambda: CONSTANTS)

    @property
    def device_kernel_us(self) -> float:
        return sum(op.us for op in self.ops)

    @property
    def samples_per_s(self) -> float:
        return self.batch / (self.device_kernel_us * 1e-6)

    @property
    def dispatch_total_us(self) -> float:
        return self.op_dispatch_us * len(self.ops)

    @property
    def samples_per_s_with_dispatch(self) -> float:
        return self.batch / ((self.device_kernel_us + self.dispatch_total_us) * 1e-6)

    def by_role(self) -> list[tuple[str, int, float]]:
        """(role, op count, total µs), largest first."""
        acc: dict[str, list] = {}
        for op in self.ops:
            a = acc.setdefault(op.role, [0, 0.0])
            a[0] += 1
            a[1] += op.us
        return sorted(((r, n, t) for r, (n, t) in acc.items()), key=lambda x: -x[2])

    def summary(self) -> dict:
        """The top-level manifest entry."""
        counts = {b: 0 for b in BOTTLENECKS}
        for op in self.ops:
            counts[op.bottleneck] += 1
        return {"cost_model_version": MODEL_VERSION, "device_kernel_ms": round(self.device_kernel_us / 1e3, 3),
                "op_dispatch_us_per_op": self.op_dispatch_us,
                "samples_per_s_with_dispatch": round(self.samples_per_s_with_dispatch, 1),
                "ops_by_bottleneck": counts}


class _Ctx:
    """What an op's price depends on beyond the op itself: the device's rates and the model's shape."""

    def __init__(self, manifest: dict, device, constants: Constants):
        if not device.rates:
            raise UserError(f"device file {device.path} has no 'rates' section (matmul_tile_cycles, "
                            f"noc_bytes_per_cycle, op_dispatch_us): the cost model cannot price this build")
        self.c = constants
        self.clock_ghz = float(device.clock_ghz)
        self.tile_cycles = device.rates["matmul_tile_cycles"]
        self.noc_bw = float(device.rates["noc_bytes_per_cycle"])
        self.dram_gb_s = float(device.dram_bandwidth_gb_s)
        self.device_cores = device.grid_x * device.grid_y
        model = manifest["model"]
        self.seq = int(manifest["seq_len"])
        self.batch = int(manifest["batch"])
        self.hidden = int(model["hidden_size"])
        self.heads = int(model["num_heads"])
        gx, gy = manifest["grid"]
        self.grid_cores = gx * gy
        self.hidden_cores = int(manifest.get("hidden_cores") or 1)

    def us(self, cycles: float) -> float:
        return cycles / (self.clock_ghz * 1e3)

    def noc_us(self, nbytes: float, syncs: int = 0) -> float:
        return self.us(nbytes / (self.noc_bw * self.c.noc_efficiency) + syncs * self.c.mcast_sync_cycles)

    def dram_us(self, nbytes: float, readers: int | None = None, tiles: int = 0) -> float:
        """Reading `nbytes` (`tiles` tile pages) from interleaved DRAM: the chip's bandwidth, or, with `readers`
        cores doing the reads, what each pulls: its bytes at a per-core rate plus a request cost per tile."""
        chip = nbytes / (self.dram_gb_s * self.c.dram_efficiency * 1e3)      # GB/s = 1e3 bytes per µs
        if not readers:
            return chip
        per_reader = (nbytes / self.c.dram_reader_bytes_per_cycle + tiles * self.c.dram_reader_tile_cycles) / readers
        return max(chip, self.us(per_reader))

    def unpack_cycles(self, dtype: str) -> float:
        return _tile_bytes(dtype) / self.c.unpack_bytes_per_cycle

    def pass_cycles(self, tiles: float, op: str, fidelity: str = _NORM_FIDELITY, block: int = 1,
                    dtype: str = "bfloat16") -> float:
        """One FPU pass (eltwise add/mul or row reduce) over `tiles` tiles of `dtype` in L1, in chunks of `block`."""
        lofi = self.tile_cycles["LoFi"]
        if op == "add":
            math_cycles = lofi * _ELTWISE_PER_MATMUL
        elif op == "mul":
            math_cycles = lofi * _ELTWISE_PER_MATMUL * _PHASES[fidelity]
        elif op == "reduce":
            math_cycles = lofi * _REDUCE_PER_MATMUL * _PHASES[fidelity]
        elif op == "copy":
            math_cycles = lofi * _ELTWISE_PER_MATMUL
        else:
            raise ValueError(op)
        per_tile = max(self.unpack_cycles(dtype), math_cycles, self.c.pack_tile_cycles)
        return tiles * per_tile + math.ceil(tiles / max(1, block)) * self.c.pass_call_cycles


def _tile_bytes(dtype: str) -> int:
    return TILE_BYTES.get(dtype, TILE_BYTES["bfloat16"])


def _tiles(shape) -> int:
    *lead, h, w = shape
    return math.prod(lead) * math.ceil(h / TILE) * math.ceil(w / TILE)


def _shard_tiles(op: dict) -> int | None:
    mem = op.get("memory") or {}
    if mem.get("shard_shape"):
        h, w = mem["shard_shape"]
        return math.ceil(h / TILE) * math.ceil(w / TILE)
    return None


def _weights(op: dict) -> tuple[int, int, int]:
    """(bytes of the op's weights in their dtype, their tiles, tiles of its main weight's K dimension)."""
    nbytes, tiles, k = 0, 0, 0
    for i, w in enumerate(op.get("weights") or []):
        shape = w["shape"]
        if len(shape) >= 2:
            nbytes += _tiles(shape) * _tile_bytes(w["dtype"])
            tiles += _tiles(shape)
        if i == 0 and len(shape) == 2:
            k = math.ceil(shape[0] / TILE)
    return nbytes, tiles, k


def _packer_l1_acc(op: dict) -> bool:
    """The op's packer_l1_acc (ttnn's matmul default on, as the reference runs; a schedule may turn it off)."""
    return bool((op.get("compute_kernel_config") or {}).get("packer_l1_acc", True))


# ---- op families ----------------------------------------------------------------------------------------
def _matmul_compute(ctx: _Ctx, m: int, n: int, k: int, kb: int, h: int, w: int, fidelity: str,
                    bias: bool, gelu: bool, in0: str = "bfloat8_b", in1: str = "bfloat8_b",
                    packer_l1_acc: bool = True) -> tuple[float, str]:
    """Cycles of one core's matmul: per K block and output subblock the unpacker feeds h in0 and w in1 tiles per
    K tile, the matrix engine does h*w tile products per K tile and the packer writes (with packer_l1_acc:
    accumulates into L1) the h*w partial tiles once; without packer_l1_acc every K block after the first also
    unpacks the partials back (bfloat16). The three threads overlap, so the slowest sets the pace. Each
    matmul_block call (one subblock, one K tile) adds a fixed cost; bias and GELU run once on the output."""
    c = ctx.c
    tc = ctx.tile_cycles[fidelity]
    kb = max(1, min(kb, k))
    blocks = max(1, k // kb)
    subblocks = (m // h) * (n // w)
    reload = 0.0 if packer_l1_acc else h * w * ctx.unpack_cycles("bfloat16") * (blocks - 1) / blocks
    per_block = max(kb * h * w * tc,                                                      # math
                    kb * (h * ctx.unpack_cycles(in0) + w * ctx.unpack_cycles(in1)) + reload,  # unpack
                    h * w * c.pack_tile_cycles)                                           # pack
    engine = subblocks * blocks * per_block + subblocks * k * c.matmul_call_cycles
    out = m * n
    epilogue = 0.0
    if bias:
        epilogue += ctx.pass_cycles(out, "add", block=w, dtype=in0)
    if gelu:
        epilogue += out * c.sfpu_gelu_tile_cycles
    detail = (f"{m * n * k} tile products/core ({m}x{n}x{k} tiles), {blocks} K block(s) of {kb}, subblock {h}x{w}, "
              f"{fidelity}")
    return engine + epilogue, detail


def _linear_mcast(op: dict, ctx: _Ctx) -> OpCost:
    cfg = op["program_config"]
    m, n, kb = cfg["per_core_M"], cfg["per_core_N"], cfg["in0_block_w"]
    h, w = cfg["out_subblock_h"], cfg["out_subblock_w"]
    wbytes, wtiles, k = _weights(op)
    k = k or kb
    fidelity = op.get("math_fidelity") or "LoFi"
    bias = len(op.get("weights") or []) > 1
    w_dtype = (op.get("weights") or [{"dtype": "bfloat8_b"}])[0]["dtype"]
    cycles, detail = _matmul_compute(ctx, m, n, k, kb, h, w, fidelity, bias, str(cfg.get("fused_activation")).startswith("gelu"),
                                     in0=op["dtype"], in1=w_dtype, packer_l1_acc=_packer_l1_acc(op))
    blocks = max(1, k // kb)
    # 2D multicast: each core receives the activation row block (M x K, minus its own shard) and the weight
    # column block (K x N) on the two NoCs, one handshake per K block each.
    gx, gy = cfg["compute_with_storage_grid_size"]
    cols = gy if cfg.get("transpose_mcast") else gx     # cores sharing one row of activations
    act = _tile_bytes(op["dtype"])
    in0 = m * k * act * (cols - 1) / cols
    in1 = k * n * _tile_bytes(w_dtype)
    noc = ctx.noc_us(max(in0, in1), syncs=blocks)
    n_total = (op.get("weights") or [{"shape": [0, n * TILE]}])[0]["shape"][-1] // TILE
    readers = max(1, n_total // n)                      # one DRAM reader per column of weight blocks
    return _cost(op, ctx, compute=ctx.us(cycles), dram=ctx.dram_us(wbytes, readers, wtiles), noc=noc, detail=detail)


def _linear_interleaved(op: dict, ctx: _Ctx) -> OpCost:
    """A linear without a program config (the QA head): output tiles spread over the whole device grid."""
    wbytes, _, k = _weights(op)
    out_tiles = _tiles(op["output_shapes"][0])
    per_core = math.ceil(out_tiles / ctx.device_cores)
    k = k or 1
    cycles, detail = _matmul_compute(ctx, per_core, 1, k, k, 1, 1, op.get("math_fidelity") or "LoFi",
                                     len(op.get("weights") or []) > 1, False)
    act = _tile_bytes("bfloat16")
    noc = ctx.noc_us(per_core * k * act * 2)          # in0 rows and in1 columns read from interleaved banks
    return _cost(op, ctx, compute=ctx.us(cycles), dram=ctx.dram_us(wbytes), noc=noc, detail=detail)


def _batched_matmul(op: dict, ctx: _Ctx) -> OpCost:
    """Height-sharded attention matmul: both operands already in the core's L1, no NoC traffic."""
    cfg = op["program_config"]
    m, n, kb = cfg["per_core_M"], cfg["per_core_N"], cfg["in0_block_w"]
    h, w = cfg["out_subblock_h"], cfg["out_subblock_w"]
    k = (attention_kn(op["role"], seq=ctx.seq // TILE, head_dim=max(1, ctx.hidden // ctx.heads // TILE))[0]
         if op["role"] in ATTENTION_ROLES else kb)
    cycles, detail = _matmul_compute(ctx, m, n, k, kb, h, w, op.get("math_fidelity") or "LoFi", False, False,
                                     in0=op["dtype"], in1=op["dtype"], packer_l1_acc=_packer_l1_acc(op))
    return _cost(op, ctx, compute=ctx.us(cycles), dram=0.0, noc=0.0, detail=detail)


def _softmax(op: dict, ctx: _Ctx) -> OpCost:
    cfg = op["program_config"] or {}
    tiles = _shard_tiles(op) or math.ceil(_tiles(op["output_shapes"][0]) / ctx.grid_cores)
    rows = cfg.get("block_h") or max(1, tiles // max(1, ctx.seq // TILE))
    sub = cfg.get("subblock_w") or 1
    c, dt, fid = ctx.c, op["dtype"], op.get("math_fidelity") or _NORM_FIDELITY
    # scale (mul), + mask (add, broadcast), exp (SFPU), row sum (reduce), 1/sum (SFPU, one tile per row), x * 1/sum
    cycles = (ctx.pass_cycles(tiles, "mul", block=sub, dtype=dt, fidelity=fid) + ctx.pass_cycles(tiles, "add", block=sub, dtype=dt, fidelity=fid)
              + tiles * c.sfpu_exp_tile_cycles + ctx.pass_cycles(tiles, "reduce", block=sub, dtype=dt, fidelity=fid)
              + rows * c.sfpu_recip_tile_cycles + ctx.pass_cycles(tiles, "mul", block=sub, dtype=dt, fidelity=fid))
    mask = rows * _tile_bytes("bfloat16")              # the mask row block, read from interleaved L1
    return _cost(op, ctx, compute=ctx.us(cycles), dram=0.0, noc=ctx.noc_us(mask, syncs=1),
                 detail=f"{tiles} tiles/core ({rows} rows), subblock_w {sub}, {fid}")


def _layernorm(op: dict, ctx: _Ctx) -> OpCost:
    cfg = op["program_config"]
    c, dt, fid = ctx.c, op["dtype"], op.get("math_fidelity") or _NORM_FIDELITY
    act = _tile_bytes(dt)
    residual = op.get("ttnn_op") == "ttnn.layer_norm" and len(op.get("weights") or []) >= 2
    if cfg:                                            # block-sharded: rows split across the hidden cores
        bh, bw, sub = cfg["block_h"], cfg["block_w"], cfg.get("subblock_w") or 1
        tiles = bh * bw
        # Partial row sums (E[x], E[x^2]) go to one core of the row and the totals come back: twice.
        stats = 2 * 2 * bh * _tile_bytes("bfloat16")
        noc = ctx.noc_us(stats, syncs=4)
        gamma_beta = 2 * bw * _tile_bytes("bfloat16")
        detail = f"{tiles} tiles/core ({bh}x{bw}), subblock_w {sub}, {fid}, stats across {ctx.hidden_cores} cores"
    else:                                              # interleaved: whole rows per core
        tiles = math.ceil(_tiles(op["output_shapes"][0]) / ctx.device_cores)
        bw = max(1, op["output_shapes"][0][-1] // TILE)
        bh, sub = max(1, tiles // bw), bw
        noc = ctx.noc_us(tiles * act * 3)               # input, residual in, output out over interleaved banks
        gamma_beta = 2 * bw * _tile_bytes("bfloat16")
        detail = f"{tiles} tiles/core, interleaved, {fid}"
    cycles = (ctx.pass_cycles(tiles, "add", block=sub, dtype=dt, fidelity=fid) * (3 if residual else 2)    # + residual, - mean, + beta
              + ctx.pass_cycles(tiles, "mul", block=sub, dtype=dt, fidelity=fid) * 3                         # square, * rstd, * gamma
              + ctx.pass_cycles(tiles, "reduce", block=sub, dtype=dt, fidelity=fid) * 2                      # E[x], E[x^2]
              + bh * c.sfpu_recip_tile_cycles)                                       # rsqrt(var + eps) per row
    return _cost(op, ctx, compute=ctx.us(cycles), dram=ctx.dram_us(gamma_beta), noc=noc, detail=detail)


def _data_movement(op: dict, ctx: _Ctx) -> OpCost:
    """Head split/concat and (re)sharding: tiles read and written through L1 by the data-movement cores."""
    kind = op["kind"]
    act = _tile_bytes(op["dtype"])
    out_tiles = sum(_tiles(s) for s in op["output_shapes"])
    sharded = bool((op.get("memory") or {}).get("shard_shape"))
    per_core = math.ceil(out_tiles / (ctx.grid_cores if sharded or kind == "to_interleaved" else ctx.device_cores))
    compute = 0.0
    if kind == "split_heads":                          # K is transposed on the way: one FPU pass over a third
        compute = ctx.pass_cycles(per_core / 3, "copy", dtype=op["dtype"])
    elif kind == "to_sharded":                         # bfloat16 rows in, tiles of the activation dtype out
        compute = ctx.pass_cycles(per_core, "copy", dtype=op["dtype"])
    nbytes = 2 * per_core * act                        # read once, write once
    return _cost(op, ctx, compute=ctx.us(compute), dram=0.0, noc=ctx.noc_us(nbytes, syncs=1),
                 detail=f"{per_core} tiles/core moved")


def _embedding(op: dict, ctx: _Ctx) -> OpCost:
    shape = op["output_shapes"][0]
    rows = math.prod(shape[:-1])
    table_dtype = (op.get("weights") or [{"dtype": "bfloat16"}])[0]["dtype"]
    row_bytes = shape[-1] * (4 if table_dtype == "float32" else 2)
    tiles = math.ceil(_tiles(shape) / ctx.device_cores)
    compute = ctx.pass_cycles(tiles, "copy")         # tilize the gathered rows
    noc = ctx.noc_us(tiles * _tile_bytes(op["dtype"]))
    return _cost(op, ctx, compute=ctx.us(compute), dram=ctx.dram_us(rows * row_bytes), noc=noc,
                 detail=f"{rows} rows of {row_bytes} B gathered, {tiles} tiles/core")


def _eltwise(op: dict, ctx: _Ctx) -> OpCost:
    tiles = _shard_tiles(op) or math.ceil(_tiles(op["output_shapes"][0]) / ctx.device_cores)
    act = _tile_bytes(op["dtype"])
    return _cost(op, ctx, compute=ctx.us(ctx.pass_cycles(tiles, "add", dtype=op["dtype"])), dram=0.0,
                 noc=ctx.noc_us(3 * tiles * act), detail=f"{tiles} tiles/core")


def _cost(op: dict, ctx: _Ctx, *, compute: float, dram: float, noc: float, detail: str) -> OpCost:
    return OpCost(name=op["name"], role=op.get("role") or op["kind"], kind=op["kind"], ttnn_op=op.get("ttnn_op", ""),
                  layer=op.get("layer"), compute_us=compute, dram_us=dram, noc_us=noc,
                  launch_us=ctx.us(ctx.c.kernel_launch_cycles), l1_bytes_per_core=op.get("l1_bytes_per_core", 0),
                  live_l1_bytes_per_core=op.get("live_l1_bytes_per_core", 0), detail=detail)


def op_cost(op: dict, ctx: _Ctx) -> OpCost:
    kind, cfg = op["kind"], op.get("program_config")
    if kind == "linear":
        return _linear_mcast(op, ctx) if cfg and "MultiCast" in cfg["type"] else _linear_interleaved(op, ctx)
    if kind == "matmul":
        return _batched_matmul(op, ctx)
    if kind == "scale_mask_softmax":
        return _softmax(op, ctx)
    if kind == "layer_norm":
        return _layernorm(op, ctx)
    if kind in ("split_heads", "concat_heads", "to_sharded", "to_interleaved", "reshard"):
        return _data_movement(op, ctx)
    if kind == "embedding":
        return _embedding(op, ctx)
    return _eltwise(op, ctx)                          # add and anything new: one pass, bytes through L1


def predict(manifest: dict, device, constants: Constants = CONSTANTS) -> Prediction:
    """Price every op of a manifest on `device` (a compiler.schedule.Device with `rates`)."""
    ctx = _Ctx(manifest, device, constants)
    ops = [op_cost(op, ctx) for op in manifest["ops"]]
    return Prediction(device=str(manifest.get("device", "")), batch=int(manifest["batch"]), ops=ops,
                      op_dispatch_us=float(device.rates["op_dispatch_us"]), constants=constants)


def constants_dict(constants: Constants = CONSTANTS) -> dict:
    return asdict(constants)
