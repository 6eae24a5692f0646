"""How a build runs: eagerly on one chip (the default), traced with two command queues (`--trace`), data parallel
over a mesh of chips (`--mesh RxC`). Checks the flags against the device and sizes the trace region.

Systems per board (Tenstorrent's product pages and tt-metal's mesh fixtures, e.g. models/demos/*/tests: N150 (1, 1),
N300 (1, 2), T3K (1, 8), TG (8, 4)): an N300 board carries 2 Wormhole chips, a T3000 4 N300 boards (8 chips), a
Galaxy 32 Wormhole chips; an E150 (Grayskull) or a P150 (Blackhole) is one chip per board.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kernels.trace_region import trace_region_size

from .errors import UserError

# device file name -> {system: chips} a mesh of that device may be
SYSTEMS = {
    "wormhole_n300": {"N300": 2, "T3000": 8},
    "wormhole_n300_eth": {"N300": 2, "T3000": 8},
    "wormhole_n150": {"N150": 1, "Galaxy": 32},
}
_CALL = re.compile(r"\bttnn\.(?:\w+\.)*\w+\(")


@dataclass(frozen=True)
class Runner:
    trace: bool = False
    mesh_shape: tuple = (1, 1)
    batch_per_chip: int = 1
    trace_region_size: int = 0
    trace_ops: int = 0

    @property
    def chips(self) -> int:
        return self.mesh_shape[0] * self.mesh_shape[1]

    @property
    def command_queues(self) -> int:
        return 2 if self.trace else 1

    @property
    def on_mesh(self) -> bool:
        """Opened with ttnn.open_mesh_device (mesh mappers, two queues); False: the eager one-chip program."""
        return self.trace or self.chips > 1

    def as_manifest(self) -> dict:
        return {"trace": self.trace, "command_queues": self.command_queues, "mesh_shape": list(self.mesh_shape),
                "chips": self.chips, "batch_per_chip": self.batch_per_chip, "trace_region_size": self.trace_region_size}


def parse_mesh(text: str | None) -> tuple:
    if text is None:
        return (1, 1)
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise UserError(f"--mesh {text} is not ROWSxCOLS; use e.g. --mesh 1x2 (N300) or --mesh 1x8 (T3000)")
    return int(m.group(1)), int(m.group(2))


def check_target(device, mesh_shape: tuple, trace: bool) -> None:
    """Refuse a trace on an API level without it and a mesh the device's systems do not have."""
    if trace and device.ttnn_api == "v0.55":
        raise UserError(f"--trace: {device.name} programs target the Grayskull API level v0.55 (tt-bert-reference), "
                        "whose ttnn has no trace capture with two command queues as 0.81 has; drop --trace (the "
                        "eager runner)")
    chips = mesh_shape[0] * mesh_shape[1]
    if chips == 1:
        return
    systems = SYSTEMS.get(device.name, {})
    if chips not in systems.values():
        have = ", ".join(f"{name} ({n} chip{'s' if n > 1 else ''})" for name, n in systems.items()) or "one chip only"
        raise UserError(f"--mesh {mesh_shape[0]}x{mesh_shape[1]} needs {chips} chips; {device.name} comes as {have}")


def forward_op_calls(program) -> int:
    """The op commands one forward pass enqueues (each ttnn op call of every scheduled op, reshapes included)."""
    return sum(len(_CALL.findall(op.call.source())) for op in program.ops)


def make_runner(program, mesh_shape: tuple, trace: bool) -> Runner:
    ops = forward_op_calls(program) if trace else 0
    cores = program.device.grid_x * program.device.grid_y
    return Runner(trace=trace, mesh_shape=tuple(mesh_shape), batch_per_chip=program.batch,
                  trace_region_size=trace_region_size(ops, cores) if trace else 0, trace_ops=ops)
