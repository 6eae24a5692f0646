"""How many bytes of the device's trace region a captured forward pass takes: the compiler sizes
`trace_region_size` with it and the emulator refuses a capture that does not fit.

What a trace holds (tt-metal sources; facts only):
- tt_metal/impl/trace/dispatch.hpp (TraceDispatchMetadata.cmd_sequence_sizeB) and the mesh trace: a trace is the
  dispatch command sequence of every program enqueued during capture, stored in the TRACE buffer region that
  open_device / open_mesh_device reserve with trace_region_size, one copy per chip.
- tt_metal/impl/program/dispatch (program_dispatch.cpp, assemble_device_commands): one program's sequence is the
  kernel binaries written to the kernel-config ring buffer (multicast once per core range), the circular-buffer
  configs (4 words per CB index, written per core range), the runtime arguments of every kernel on every core
  (unique per core), semaphores, the launch message and the go signal.

Estimates (ours, per op, not read from a program): 3 kernels (reader, writer, compute) of up to 4 KiB of binary each
plus 256 B of launch message, go signal and command headers; per core 32 CB configs x 16 B and 3 kernels x 21
runtime-argument words x 4 B (rounded to 768 B). Every op is charged the full grid. For bert-large on the 8x8 grid
this gives 273 op commands x 61,696 B = 16.8 MB, and with the 1.5x headroom 25.3 MB: the same order as the 23,887,872 B that
Tenstorrent's traced demos open their devices with (e.g. models/demos/yolov9c/tests/perf/test_e2e_performant.py).
"""
from __future__ import annotations

PROGRAM_BYTES = 3 * 4096 + 256        # binaries + launch message, go signal and command headers, per op
PER_CORE_BYTES = 32 * 16 + 256        # CB configs + runtime arguments, per core of the op
HEADROOM = 1.5                        # the per-op figures are estimates: leave half again as much
ALIGN = 64 * 1024                     # the region is reserved in whole 64 KiB


def trace_command_bytes(ops: int, cores: int) -> int:
    """The trace bytes of ``ops`` captured op commands, each charged the full ``cores`` grid."""
    return int(ops) * (PROGRAM_BYTES + int(cores) * PER_CORE_BYTES)


def trace_region_size(ops: int, cores: int) -> int:
    """The trace_region_size to open the device with: the estimate with headroom, in whole 64 KiB."""
    need = int(trace_command_bytes(ops, cores) * HEADROOM)
    return -(-need // ALIGN) * ALIGN
