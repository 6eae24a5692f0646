"""The build target: what a device and a schedule fix before any op is lowered, said once.

- the activation grid: `hidden_cores` across the hidden size on the schedule's `hidden_axis`, one sequence per
  core on the other axis (the batch axis), so the batch can never exceed that axis's core count;
- the batch range: typed in the device file (`batch: {min, max}`) or, with no `batch.max`, derived for the
  schedule and model by compiler/check_schedule.py (the batches whose schedule is legal and fits L1);
- the batch flag itself (a positive size, capped before tracing so a typo does not trace for minutes).

Lowering, build, check-schedule, search and the CLI call these; the error texts are the ones users see.
"""
from __future__ import annotations

from kernels import attention
from kernels.common import TILE

from .errors import LegalityError, UserError
from .schedule import Device, Schedule, _display

MAX_BATCH_FLAG = 1024   # above any grid's batch axis; refused before the (slow) trace


def grid_axes(device: Device, schedule: Schedule) -> tuple[int, int]:
    """(cores along the hidden axis, cores along the batch axis)."""
    return (device.grid_x, device.grid_y) if schedule.hidden_axis == "x" else (device.grid_y, device.grid_x)


def batch_axis(schedule: Schedule) -> str:
    return "y" if schedule.hidden_axis == "x" else "x"


def batch_bound(device: Device, schedule: Schedule) -> int:
    """One sequence per core along the grid axis that does not carry the hidden size."""
    return grid_axes(device, schedule)[1]


def hidden_core_fits(along: int, hidden: int, heads: int) -> list[int]:
    """Hidden-core counts that split both the hidden tiles and the heads evenly, up to `along` cores."""
    hidden_tiles = hidden // TILE
    return [g for g in range(1, along + 1) if hidden_tiles % g == 0 and heads % g == 0]


def derive_grid(device: Device, schedule: Schedule, hidden: int, heads: int, batch: int) -> tuple[tuple[int, int], int, str]:
    """Activation grid: `hidden_cores` across the hidden size on one axis, one sequence per core on the other."""
    along, across = grid_axes(device, schedule)
    if hidden % TILE:
        raise LegalityError("activation_grid", "hidden size is tile-aligned", f"hidden {hidden} % {TILE} != 0", "model")
    hidden_tiles = hidden // TILE
    fits = hidden_core_fits(along, hidden, heads)
    if schedule.hidden_cores == "auto":
        # The head split reads 2 heads per core column (kernels/attention.py), so the hidden cores are heads / 2.
        cores = heads // attention.HEADS_PER_CORE
        if heads % attention.HEADS_PER_CORE or cores not in fits:
            raise LegalityError("activation_grid", "the head split reads exactly 2 heads per core column",
                                f"{heads} heads need {heads / attention.HEADS_PER_CORE:g} cores across hidden {hidden} "
                                f"({hidden_tiles} tiles) on grid {schedule.hidden_axis} of {along}; "
                                f"counts that divide both: {fits}", "model")
        reason = (f"hidden {hidden} = {hidden_tiles} tiles with {heads} heads: {cores} of {along} cores on grid "
                  f"{schedule.hidden_axis}, {attention.HEADS_PER_CORE} heads each as the head split reads them")
    else:
        cores = schedule.hidden_cores
        if cores > along:
            raise LegalityError("activation_grid", "hidden cores fit the device grid",
                                f"{cores} > {along} cores on grid axis {schedule.hidden_axis}", "activation_grid.hidden_cores")
        if cores not in fits:
            raise LegalityError("activation_grid", "hidden cores divide hidden tiles and heads",
                                f"hidden {hidden} = {hidden_tiles} tiles, {heads} heads, hidden_cores {cores}; legal: {fits}",
                                "activation_grid.hidden_cores")
        reason = f"hidden_cores {cores} from the schedule"
    if batch > across:
        raise LegalityError("activation_grid", "batch fits the grid (one sequence per core row)",
                            f"batch {batch} > {across} cores on grid axis {batch_axis(schedule)}", "batch")
    grid = (cores, batch) if schedule.hidden_axis == "x" else (batch, cores)
    return grid, cores, reason


# ---- the batch range -------------------------------------------------------------------------------

def check_batch_flag(batch: int, *, hint: str = "pass a positive batch within the device's range",
                     cap: int | None = MAX_BATCH_FLAG) -> None:
    """`--batch N` as typed: a positive size (and at most `cap`), before anything is traced."""
    if batch < 1 or (cap is not None and batch > cap):
        raise UserError(f"--batch {batch} is not a usable batch size; {hint}")


def above_typed_range(device: Device, batch: int) -> bool:
    return device.batch_max is not None and batch > device.batch_max


def check_batch_in(device: Device, batch: int, lo: int, hi: int | None, *, kind: str = "", see: str = "",
                   prefix: str = "", error: type[UserError] = UserError) -> None:
    """The batch-range rule: lo <= batch <= hi (no upper bound when hi is None), one message for every caller."""
    if lo <= batch and (hi is None or batch <= hi):
        return
    raise error(f"{prefix}batch {batch} is outside {device.name}'s {kind}range {lo}-{hi}{see}; pick --batch in that range")


def check_typed_range(device: Device, batch: int, *, error: type[UserError] = UserError) -> None:
    """The device file's `batch: {min, max}` (a device without `batch.max` is only bounded below here)."""
    check_batch_in(device, batch, device.batch_min, device.batch_max, error=error)


def check_derived_range(device: Device, batch: int, lo: int, hi: int) -> None:
    """A range derived for this schedule and model (compiler/check_schedule.py derive_batch_range)."""
    check_batch_in(device, batch, lo, hi, kind="derived ",
                   see=f" (largest batch whose schedule is legal and fits L1; see: python -m compiler check-schedule "
                       f"{_display(device.path)})")
