"""Predict end-to-end sentences/s of a build: device kernels plus what runs around them, eager or traced, one chip or a mesh.

One inference of `batch_per_chip` sentences per chip is, per iteration:

    writes   every program input copied host -> device over PCIe: per tensor a fixed latency + bytes / bandwidth
    device   the build's ops, each its predicted kernel time (compiler/cost_model.py) after the device's op-to-op gap
             (rates.op_dispatch_us): eager, the host enqueues op after op (its per-op host time, `host_enqueue`) and
             the device starts an op when both the host has enqueued it and the previous op is done; with trace the
             recorded commands replay from DRAM without the host, so ops follow each other at the gap alone
    reads    the program output read device -> host over PCIe

With one command queue the three run one after another; with two, input writes on CQ1 overlap the previous
iteration's ops, and ops and output reads stay on CQ0 (AdvancedPerformanceOptimizationsForModels 2.3.2, 3.3.1.1),
so an iteration takes max(device + reads, writes + the host's per-iteration commands).

Data parallel on a mesh: every chip runs the same per-chip program at the same time; the one host thread issues
each chip's input writes and output reads in turn (so they add up over chips), and enqueues each op once for the
whole mesh (a mesh workload). Throughput = chips x batch_per_chip / iteration time.

The constants are fitted on cited micro-benchmarks in compiler/cost_data/host_io.yaml (PCIe write/read times per
transfer size; host enqueue time per ttnn op); no end-to-end model figure enters. Not modelled: host time to
build the input tensors (tokenisation, torch -> ttnn conversion) and to untilize / post-process outputs, the
slower ethernet-tunnelled dispatch to a mesh's remote chips, and contention between chips behind one PCIe link.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from kernels.common import TILE, TILE_BYTES

from .cost_model import Prediction

TABLE = Path(__file__).parent / "cost_data" / "host_io.yaml"
_MIB = 1 << 20
_HOST_BYTES = {"uint32": 4, "int32": 4, "float32": 4, "bfloat16": 2, "uint16": 2}
# Host commands of one traced iteration besides the input copies: execute_trace, and the record / wait event
# pairs between the two queues (AdvancedPerformanceOptimizationsForModels 3.3.1.1).
_TRACE_HOST_COMMANDS = 5


@dataclass(frozen=True)
class HostConstants:
    """What the end-to-end model adds to the device model. The PCIe four and `host_enqueue_us` are fitted on
    compiler/cost_data/host_io.yaml (`fit_host`); `host_speed` is a prior (this host as fast as the profiling one)."""
    h2d_gb_s: float              # PCIe host -> device bandwidth of large transfers
    h2d_latency_us: float        # fixed cost of one host -> device transfer
    d2h_gb_s: float
    d2h_latency_us: float
    host_enqueue_us: float       # host time to enqueue one op the table does not list (geometric mean of its rows)
    host_speed: float = 1.0      # multiplies every host enqueue time


FITTED_HOST = ("h2d_gb_s", "h2d_latency_us", "d2h_gb_s", "d2h_latency_us", "host_enqueue_us")


@dataclass(frozen=True)
class HostTable:
    constants: HostConstants
    enqueue_us: dict[str, float]          # ttnn op -> host enqueue µs, as measured
    pcie_rows: list[tuple[str, int, float]]   # (direction, bytes, measured µs)


def _transfer_fit(rows: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares of time = latency + bytes / bandwidth on (bytes, µs) rows -> (GB/s, latency µs)."""
    a = np.array([[1.0, b] for b, _ in rows])
    (latency, per_byte), *_ = np.linalg.lstsq(a, np.array([t for _, t in rows]), rcond=None)
    return float(1e-3 / per_byte), float(latency)        # bytes per µs / 1e3 = GB/s


def fit_host(path: Path = TABLE) -> HostTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = [(d, int(size), size / (mib_s * _MIB) * 1e6) for d, _, size, mib_s in data["pcie_rows"]]
    h2d = _transfer_fit([(b, t) for d, b, t in rows if d == "h2d"])
    d2h = _transfer_fit([(b, t) for d, b, t in rows if d == "d2h"])
    enqueue = {op: 1e3 * float(ms) for op, ms in data["host_enqueue_ms"].items()}
    mean = math.exp(sum(math.log(v) for v in enqueue.values()) / len(enqueue))
    c = HostConstants(h2d_gb_s=h2d[0], h2d_latency_us=h2d[1], d2h_gb_s=d2h[0], d2h_latency_us=d2h[1],
                      host_enqueue_us=mean)
    return HostTable(c, enqueue, rows)


HOST = fit_host()


@dataclass(frozen=True)
class Runner:
    """How the program is run: manifest["runner"] as the build writes it; absent means eager, 1 CQ, 1 chip."""
    trace: bool = False
    command_queues: int = 1
    mesh_shape: tuple[int, int] = (1, 1)
    batch_per_chip: int = 1
    read_outputs: bool = True      # False: the timed loop leaves the output on the device (as some published tests do)

    @property
    def chips(self) -> int:
        return self.mesh_shape[0] * self.mesh_shape[1]

    @property
    def label(self) -> str:
        mode = ("trace" if self.trace else "eager") + f" + {self.command_queues} CQ"
        return f"{mode}, mesh {self.mesh_shape[0]}x{self.mesh_shape[1]} ({self.chips} chip{'s' if self.chips > 1 else ''})"


def runner_of(manifest: dict) -> Runner:
    r = manifest.get("runner") or {}
    shape = tuple(int(x) for x in (r.get("mesh_shape") or (1, 1)))
    return Runner(trace=bool(r.get("trace", False)), command_queues=int(r.get("command_queues", 1)),
                  mesh_shape=shape, batch_per_chip=int(r.get("batch_per_chip") or manifest["batch"]))


@dataclass
class EndToEnd:
    runner: Runner
    writes_us: float        # all chips' input writes, one after another on the host
    host_us: float          # host enqueue time of one iteration (eager: every op; trace: the few replay commands)
    device_us: float        # one chip's ops with their gaps (eager: as the host lets them start)
    reads_us: float         # all chips' output reads
    kernels_us: float       # one chip's device kernels alone

    @property
    def iteration_us(self) -> float:
        if self.runner.command_queues >= 2:
            return max(self.device_us + self.reads_us, self.writes_us + (self.host_us if self.runner.trace else 0.0))
        return self.writes_us + self.device_us + self.reads_us + (self.host_us if self.runner.trace else 0.0)

    @property
    def samples_per_s(self) -> float:
        return self.runner.chips * self.runner.batch_per_chip / (self.iteration_us * 1e-6)

    @property
    def bound(self) -> str:
        if self.runner.command_queues >= 2 and self.writes_us + self.host_us > self.device_us + self.reads_us:
            return "host writes"
        if not self.runner.trace and self.host_us > self.kernels_us:
            return "host enqueue"
        return "device"


def _host_bytes(shape, dtype: str) -> int:
    return math.prod(shape) * _HOST_BYTES.get(dtype, 2)


def _tile_bytes(shape, dtype: str) -> int:
    *lead, h, w = shape
    return math.prod(lead) * math.ceil(h / TILE) * math.ceil(w / TILE) * TILE_BYTES.get(dtype, TILE_BYTES["bfloat16"])


def _transfer_us(nbytes: float, gb_s: float, latency_us: float) -> float:
    return latency_us + nbytes / (gb_s * 1e3)


def io_bytes(manifest: dict) -> tuple[list[int], list[int]]:
    """(bytes of each input written, bytes of each output read) per chip: row-major inputs as the program's
    inputs list gives them, the last op's outputs in their tile layout."""
    ins = [_host_bytes(i["shape"], i["dtype"]) for i in manifest.get("inputs") or []]
    last = manifest["ops"][-1] if manifest["ops"] else {"output_shapes": [], "dtype": "bfloat16"}
    outs = [_tile_bytes(s, last.get("dtype") or "bfloat16") for s in last["output_shapes"]]
    return ins, outs


def predict_e2e(manifest: dict, pred: Prediction, runner: Runner, host: HostTable = HOST,
                constants: HostConstants | None = None, op_gap_us: float | None = None) -> EndToEnd:
    """One iteration of `runner` for the build `manifest` whose device ops `pred` priced."""
    c = constants or host.constants
    gap = pred.op_dispatch_us if op_gap_us is None else op_gap_us
    kernels = [op.us for op in pred.ops]
    ins, outs = io_bytes(manifest)
    chips = runner.chips
    writes = chips * sum(_transfer_us(b, c.h2d_gb_s, c.h2d_latency_us) for b in ins)
    reads = chips * sum(_transfer_us(b, c.d2h_gb_s, c.d2h_latency_us) for b in outs) if runner.read_outputs else 0.0
    if runner.trace:
        host_us = _TRACE_HOST_COMMANDS * c.host_enqueue_us * c.host_speed
        device = sum(kernels) + gap * len(kernels)
    else:
        enqueue = [host.enqueue_us.get(op.get("ttnn_op", ""), c.host_enqueue_us) * c.host_speed for op in manifest["ops"]]
        host_us = sum(enqueue)
        t_host = t_dev = 0.0
        for k, h in zip(kernels, enqueue):
            t_host += h
            t_dev = max(t_dev, t_host) + gap + k
        device = t_dev
    return EndToEnd(runner, writes, host_us, device, reads, sum(kernels))


def what_ifs(manifest: dict, wormhole: bool) -> list[Runner]:
    """The runners explain prices: eager 1 CQ and trace + 2 CQ on one chip and on the build's mesh, and for a
    Wormhole build the N300 (1x2) and T3000 (1x8) meshes as well."""
    own = runner_of(manifest)
    meshes = [(1, 1), own.mesh_shape] + ([(1, 2), (1, 8)] if wormhole else [])
    out, seen = [], set()
    for shape in meshes:
        for trace, cqs in ((False, 1), (True, 2)):
            key = (tuple(shape), trace, cqs)
            if key not in seen:
                seen.add(key)
                out.append(Runner(trace=trace, command_queues=cqs, mesh_shape=tuple(shape),
                                  batch_per_chip=own.batch_per_chip))
    if own.mesh_shape != (1, 1) or own.trace or own.command_queues != 1:
        key = (own.mesh_shape, own.trace, own.command_queues)
        if key not in seen:
            out.append(own)
    return out


def host_constants_dict(c: HostConstants | None = None) -> dict:
    return asdict(c or HOST.constants)


def perturbed(c: HostConstants, name: str, factor: float) -> HostConstants:
    return replace(c, **{name: getattr(c, name) * factor})
