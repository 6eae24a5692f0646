"""Errors raised by the host emulator.

Every failure that the real chip / ttnn would report (TT_FATAL) is raised as a
subclass of :class:`EmulatorError` (itself a ``RuntimeError``, like ttnn's
exceptions).  Each carries ``op`` (the ttnn call, e.g. ``"ttnn.linear"``) and
``rule`` (a short stable identifier of the violated constraint) so tests and
tools can match on them; the message names the op, the rule and the numbers.
"""

from __future__ import annotations

from typing import Optional


class EmulatorError(RuntimeError):
    """Base class: something the device (or ttnn on it) would refuse."""

    def __init__(self, message: str, *, op: Optional[str] = None, rule: Optional[str] = None):
        self.op = op
        self.rule = rule
        prefix = ""
        if op:
            prefix += f"{op}: "
        if rule:
            prefix += f"[{rule}] "
        super().__init__(prefix + message)


class PlacementError(EmulatorError):
    """Invalid memory config / shard spec for a tensor (layout, grid, coverage)."""


class ProgramConfigError(EmulatorError):
    """An op's program config does not fit its operands or the device."""


class OpInputError(EmulatorError):
    """Operand shapes / dtypes / layouts that the op does not accept."""


class L1OutOfMemoryError(EmulatorError):
    """An allocation would exceed a core's L1."""


class DeallocatedTensorError(EmulatorError):
    """Use of a tensor whose device buffer was deallocated."""


class UnsupportedError(EmulatorError):
    """A real ttnn feature the emulator does not model (never silently ignored)."""


__all__ = [
    "EmulatorError",
    "PlacementError",
    "ProgramConfigError",
    "OpInputError",
    "L1OutOfMemoryError",
    "DeallocatedTensorError",
    "UnsupportedError",
]
