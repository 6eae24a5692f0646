"""Check a device or schedule file without building, and derive a device's batch range.

A device description may leave its batch range out: the range is then derived, for the schedule and
model at hand, as the batches whose schedule is legal and fits L1 (the largest such batch is the
maximum). Deriving means lowering the model for each candidate batch. Per-op program configs and
per-core L1 do not depend on the number of encoder layers (every layer is the same, weights stay in
DRAM), so a copy of the model config with 2 layers is traced: about 1 s per batch for bert-large.
With weights in L1 the full depth is traced, since then every layer's weights take L1.

`python -m compiler check-schedule FILE [--batch N]` prints what the loader validated, one row per
batch (grid, legality, peak L1 per core and the op at the peak, or the rule an op breaks), the
derived range, and the per-op configs and L1 of one encoder layer. Problems end in one `error:` line.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import LegalityError, ScheduleError, UserError
from .schedule import (BERT_DIR, DEVICE_DIR, Device, Schedule, _display, _load_yaml, default_schedule_for,
                       device_for_schedule, find_device, load_device, load_schedule)
from .target import batch_axis, batch_bound, check_batch_flag, check_batch_in, check_derived_range, derive_grid, grid_axes

PROBE_LAYERS = 2
ARCHITECTURE = "BertForQuestionAnswering"


@dataclass
class Probe:
    """The outcome of lowering the (probe) model at one batch."""
    batch: int
    program: object | None = None          # compiler.program.Program when legal
    error: LegalityError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def peak_op(self):
        if not self.program:
            return None
        return max(self.program.ops, key=lambda op: op.live_l1_bytes_per_core)


@dataclass
class BatchRange:
    min: int | None               # None: no batch is legal
    max: int | None
    bound: int                    # the grid's batch axis: no batch above it can be legal
    derived: bool                 # False: typed in the device file
    probes: dict[int, Probe]

    def __str__(self) -> str:
        return "none" if self.min is None else f"{self.min}-{self.max}"


def probe_config(config, schedule: Schedule):
    """The model config to lower for probing: 2 layers when weights are off L1, else the full depth."""
    if schedule.placement["weights"] != "DRAM" or config.num_hidden_layers <= PROBE_LAYERS:
        return config
    probe = config.__class__.from_dict(config.to_dict())
    probe.num_hidden_layers = PROBE_LAYERS
    probe._attn_implementation = "eager"
    return probe


@functools.lru_cache(maxsize=64)
def _passed_graph(config_json: str, batch: int, seq_len: int, architecture: str):
    import transformers

    from .families import FAMILIES
    from .passes.pipeline import check_lowered, run_passes
    from .trace import trace_bert

    fields = json.loads(config_json)
    config_class = FAMILIES.get(fields.get("model_type"), FAMILIES["bert"]).config_class   # RoBERTa probes too
    config = getattr(transformers, config_class).from_dict(fields)
    config._attn_implementation = "eager"
    from .families import task_from_architecture

    graph = run_passes(trace_bert(config, batch, seq_len, architecture, task=task_from_architecture(architecture)))
    check_lowered(graph)
    return graph


def probe(device: Device, schedule: Schedule, config, batch: int, *, architecture: str = ARCHITECTURE,
          model_name: str = "probe", config_hash: str = "probe") -> Probe:
    """Lower the model (probe depth) at `batch`; legality and L1 failures are returned, not raised."""
    from .lower import lower
    from .schedule import check_seq_len

    check_seq_len(schedule, config)
    cfg = probe_config(config, schedule)
    graph = _passed_graph(cfg.to_json_string(use_diff=False), batch, schedule.seq_len, architecture)
    unbounded = dataclasses.replace(device, batch_min=1, batch_max=None)
    try:
        program = lower(graph, unbounded, schedule, batch, model_name=model_name, config_hash=config_hash)
    except LegalityError as e:
        return Probe(batch, error=e)
    return Probe(batch, program=program)


def derive_batch_range(device: Device, schedule: Schedule, config, *, full: bool = False,
                       architecture: str = ARCHITECTURE) -> BatchRange:
    """The device's batch range for this schedule and model.

    Typed (`batch: {min, max}` in the device file): that range, probed batch by batch when `full`.
    Derived (no `batch.max`): from `batch.min` (default 1) up to the grid's batch axis, the smallest and the
    largest batch whose schedule is legal and fits L1. `full` probes every candidate (for the table);
    otherwise only from the top down to the largest legal batch and from the bottom up to the smallest.
    """
    bound = batch_bound(device, schedule)
    probes: dict[int, Probe] = {}

    def at(batch: int) -> Probe:
        if batch not in probes:
            probes[batch] = probe(device, schedule, config, batch, architecture=architecture)
        return probes[batch]

    if not device.batch_derived:
        if full:
            for b in range(device.batch_min, device.batch_max + 1):
                at(b)
        return BatchRange(device.batch_min, device.batch_max, bound, False, probes)
    candidates = list(range(device.batch_min, bound + 1))
    if not candidates:
        raise ScheduleError(f"{_display(device.path)}: batch.min {device.batch_min} is above the {bound} cores of grid axis "
                            f"{batch_axis(schedule)} that carries the batch in {_display(schedule.path)}")
    if full:
        for b in candidates:
            at(b)
    hi = next((b for b in reversed(candidates) if at(b).ok), None)
    lo = next((b for b in candidates if b <= hi and at(b).ok), None) if hi is not None else None
    return BatchRange(lo, hi, bound, True, probes)


def check_batch(device: Device, schedule: Schedule, config, batch: int, *, architecture: str = ARCHITECTURE) -> BatchRange:
    """For `build --device` with a derived range: raise unless `batch` lies in the derived range."""
    rng = derive_batch_range(device, schedule, config, architecture=architecture)
    if rng.min is None:
        reason = rng.probes[max(rng.probes)].error if rng.probes else f"the grid's batch axis has {rng.bound} cores"
        raise ScheduleError(f"{_display(schedule.path)}: no batch is legal for {device.name} with this schedule: {reason}")
    check_derived_range(device, batch, rng.min, rng.max)
    return rng


# ---- the check-schedule command ------------------------------------------------------------------

def _kind_of(path: Path) -> str:
    data = _load_yaml(path, "device or schedule")
    if "model" in data or "activation_grid" in data or "seq_len" in data:
        return "schedule"
    return "device"


def resolve_pair(file: str, *, schedule: str | None = None, device: str | None = None) -> tuple[Device, Schedule | None, str]:
    """FILE (device or schedule file, or a device name) -> (device, schedule or None, which FILE was)."""
    p = Path(file)
    if p.suffix not in (".yaml", ".yml") and "/" not in file and not p.exists():
        if (DEVICE_DIR / f"{file}.yaml").is_file():
            p = DEVICE_DIR / f"{file}.yaml"
        elif (BERT_DIR / f"{file}.yaml").is_file():
            p = BERT_DIR / f"{file}.yaml"
        else:
            find_device(file)     # raises the did-you-mean error for an unknown name
    kind = _kind_of(p)
    if kind == "schedule":
        if schedule:
            raise UserError("--schedule is for a device FILE; FILE is already a schedule (use --device to name its device)")
        sched = load_schedule(p)
        dev = find_device(device) if device else device_for_schedule(sched)
        return dev, sched, kind
    if device:
        raise UserError("--device is for a schedule FILE; FILE is already a device (use --schedule to name a schedule)")
    dev = load_device(p)
    if schedule:
        from .schedule import find_schedule
        return dev, find_schedule(schedule), kind
    try:
        return dev, default_schedule_for(dev), kind
    except ScheduleError:
        return dev, None, kind


def _config_summary(op) -> str:
    cfg = op.program_config
    if cfg is None:
        return "-"
    f = cfg.fields
    short = cfg.ttnn_class.replace("ProgramConfig", "").replace("MultiCore", "")
    parts = [short]
    if "per_core_M" in f:
        parts.append(f"M{f['per_core_M']}xN{f['per_core_N']} in0_w {f['in0_block_w']} "
                     f"sub {f['out_subblock_h']}x{f['out_subblock_w']}")
    if "block_h" in f:
        parts.append(f"block {f['block_h']}x{f['block_w']} sub_w {f['subblock_w']}")
    if f.get("fused_activation"):
        parts.append(f"+{f['fused_activation']}")
    return " ".join(parts)


def _placement_summary(op) -> str:
    p = op.placement
    if not p.sharded:
        return f"{p.buffer} {p.tensor_layout.lower().replace('_', '-')}"
    rows, cols = p.shard_shape
    return f"{p.layout.replace('_SHARDED', '').lower()} {rows}x{cols}"


def _device_line(dev: Device) -> str:
    return (f"device   {dev.name}: {dev.arch}, compute grid {dev.grid_x}x{dev.grid_y}, L1 {dev.l1_bytes_per_core} B/core, "
            f"DRAM {dev.dram_channels} x {dev.dram_bytes_per_channel >> 20} MiB, {dev.dispatch} dispatch  ({_display(dev.path)})")


def _header(dev: Device, sched: Schedule, src, cfg, probe_layers: int) -> list[str]:
    along = grid_axes(dev, sched)[0]
    try:
        cores = f"{sched.hidden_cores} -> {derive_grid(dev, sched, cfg.hidden_size, cfg.num_attention_heads, 1)[1]}"
    except LegalityError:
        cores = str(sched.hidden_cores)
    lines = [
        _device_line(dev),
        f"schedule {_display(sched.path)}: hidden on grid {sched.hidden_axis} ({cores} of {along} cores), batch on grid "
        f"{batch_axis(sched)} (<= {batch_bound(dev, sched)}), {sched.shard_orientation}, seq_len {sched.seq_len}, "
        f"activations {sched.dtypes['activations']}, weights {sched.dtypes['weights']} in {sched.placement['weights']}, "
        f"{sched.math_fidelity}",
        f"model    {src.name}: hidden {cfg.hidden_size}, {cfg.num_attention_heads} heads, {cfg.num_hidden_layers} layers "
        f"(lowered with {probe_layers}; per-op configs and L1 do not depend on depth)",
    ]
    want = "ROW_MAJOR" if sched.hidden_axis == "x" else "COL_MAJOR"
    if sched.shard_orientation != want:
        lines.append(f"note     hidden on grid {sched.hidden_axis} with {sched.shard_orientation} shards: only batch == "
                     f"hidden cores can be legal; hidden on {sched.hidden_axis} wants {want}")
    return lines


def _batch_table(dev: Device, probes: list[Probe]) -> list[str]:
    rows = [f"{'batch':>5}  {'grid':7} {'cores':>5}  {'legal':5}  {'peak L1/core':>12}  {'use':>4}  {'min headroom':>12}  "
            f"op at peak / at min headroom | rule broken"]
    for pr in probes:
        if pr.ok:
            p, op = pr.program, pr.peak_op
            grid = f"{p.grid[0]}x{p.grid[1]}"
            worst = p.l1_plan.min_headroom
            rows.append(f"{pr.batch:>5}  {grid:7} {p.grid[0] * p.grid[1]:>5}  {'ok':5}  "
                        f"{p.peak_l1_bytes_per_core:>12}  {100 * p.peak_l1_bytes_per_core // dev.l1_usable_bytes:>3}%  "
                        f"{worst.headroom:>12}  {op.name} / {worst.name}")
        else:
            e = pr.error
            rows.append(f"{pr.batch:>5}  {'-':7} {'-':>5}  {'NO':5}  {'-':>12}  {'-':>4}  {'-':>12}  "
                        f"{e.op}: {e.rule} ({e.detail}); key '{e.key}'")
    return rows


def _op_table(dev: Device, program) -> list[str]:
    """One encoder layer (and the ops outside the layers): config, placement, and the allocator's plan: CB bytes,
    the op's output address, the lowest buffer while it runs and the free L1 between its CBs and that buffer."""
    plan = dict(zip((op.name for op in program.ops), program.l1_plan.ops))
    ops = [op for op in program.ops if op.layer in (None, 0)]
    w = max(len(op.name) for op in ops)
    funcs = {op.name: op.call.func.replace("ttnn.transformer.", "").replace("ttnn.experimental.", "").replace("ttnn.", "")
             for op in ops}
    fw = max(len(f) for f in funcs.values())
    cw = max(len(_config_summary(op)) for op in ops)
    rows = [f"{'op':{w}}  {'ttnn op':{fw}}  {'program config':{cw}}  {'dtype':9} {'placement':16} {'out/core':>9} "
            f"{'live/core':>9} {'CBs/core':>9} {'out addr':>9} {'lowest':>9} {'headroom':>9}"]
    for op in ops:
        o = plan[op.name]
        cbs = "n/m" if o.cbs is None else str(o.cb_bytes)
        addr = str(min(b["address"] for b in o.buffers)) if o.buffers else "-"
        rows.append(f"{op.name:{w}}  {funcs[op.name]:{fw}}  {_config_summary(op):{cw}}  {op.dtype:9} {_placement_summary(op):16} "
                    f"{op.l1_bytes_per_core:>9} {op.live_l1_bytes_per_core:>9} {cbs:>9} {addr:>9} "
                    f"{o.lowest_buffer if o.lowest_buffer is not None else '-':>9} {o.headroom:>9}")
    rows.append(f"(L1 {dev.l1_bytes_per_core} B/core, allocator base {dev.l1_unreserved_base}: {dev.l1_usable_bytes} B for "
                f"buffers and CBs; headroom = lowest buffer - top of the op's CB region; n/m: CBs not modelled)")
    return rows


def qkv_reserve_rows(device: Device, schedule: Schedule, config, batch: int) -> list[str]:
    """The reference's QKV-sized reserve (metal_BERT_large_11 mha.py, RESERVE_SPLIT_HEADS_SHAPE) replayed: layer 0's
    attention ops with and without it."""
    from .lower import _Lowering, l1_plan, plan_buffers

    cfg = probe_config(config, schedule)
    graph = _passed_graph(cfg.to_json_string(use_diff=False), batch, schedule.seq_len, ARCHITECTURE)
    lw = _Lowering(graph, dataclasses.replace(device, batch_min=1, batch_max=None), schedule, batch)
    lw.run()
    weights = list(lw.weights.values())
    plan_buffers(lw.ops, device, lw.inputs, weights)
    plans = {flag: l1_plan(lw, weights, reserve_before_qkv=flag) for flag in (False, True)}
    roles = ("qkv", "split_heads", "attention_scores", "attention_probs", "attention_context")
    rows = [f"{'op':28} {'lowest without':>14} {'headroom':>9}   {'lowest with':>11} {'headroom':>9}   where Q / K^T / V land"]
    for i, op in enumerate(lw.ops):
        if op.layer != 0 or op.role not in roles:
            continue
        cells = []
        for flag in (False, True):
            o = plans[flag].ops[i] if i < len(plans[flag].ops) else None
            cells.append((o.lowest_buffer, o.headroom) if o else ("-", "-"))
        where = ""
        if op.role == "split_heads":
            qkv_addr = {flag: next(b["address"] for b in plans[flag].ops[i - 1].buffers) for flag in (False, True)}
            where = " / ".join("above QKV" if plans[flag].ops[i].buffers[0]["address"] > qkv_addr[flag] else "below QKV"
                               for flag in (False, True))
            where = f"without: {where.split(' / ')[0]}, with: {where.split(' / ')[1]}"
        rows.append(f"{op.name:28} {cells[0][0]:>14} {cells[0][1]:>9}   {cells[1][0]:>11} {cells[1][1]:>9}   {where}")
    return rows


def run_check(file: str, *, batch: int | None = None, model: str | None = None, schedule: str | None = None,
              device: str | None = None, out=print) -> int:
    from .model_source import resolve_model

    dev, sched, kind = resolve_pair(file, schedule=schedule, device=device)
    if sched is None:
        out(_device_line(dev))
        raise ScheduleError(f"{_display(dev.path)} is a valid device file but has no schedule to check against "
                            f"(looked next to it and in schedules/bert/); pass --schedule FILE")
    if sched.device != dev.name:
        raise ScheduleError(f"{_display(sched.path)}: schedule is for device '{sched.device}', not '{dev.name}'")
    src = resolve_model(model)
    cfg = src.bert_config()
    for line in _header(dev, sched, src, cfg, probe_config(cfg, sched).num_hidden_layers):
        out(line)
    if batch is not None:
        check_batch_flag(batch, hint="pass a positive batch", cap=None)
    rng = derive_batch_range(dev, sched, cfg, full=batch is None)
    if batch is not None and batch not in rng.probes:
        rng.probes[batch] = probe(dev, sched, cfg, batch)
    shown = [rng.probes[b] for b in sorted(rng.probes) if batch is None or b == batch]
    out("")
    for line in _batch_table(dev, shown):
        out(line)
    out("")
    how = ("derived: the largest batch whose schedule is legal and fits L1" if rng.derived
           else "typed in the device file")
    out(f"batch range {rng} ({how}; the grid's batch axis {batch_axis(sched)} allows at most {rng.bound})")
    focus = rng.probes.get(batch if batch is not None else (rng.max or -1))
    if focus is not None and focus.ok:
        out("")
        out(f"per-op configs and L1 per core at batch {focus.batch}, grid {focus.program.grid[0]}x{focus.program.grid[1]} "
            f"(layer 0 of {cfg.num_hidden_layers}; every layer is the same):")
        for line in _op_table(dev, focus.program):
            out(line)
        if any(op.role == "qkv" for op in focus.program.ops):
            out("")
            out("the reference's QKV-sized L1 reserve before QKV (freed right after it), layer 0, replayed by the allocator:")
            for line in qkv_reserve_rows(dev, sched, cfg, focus.batch):
                out(line)
    # Errors last, after the table that explains them.
    if rng.min is None:
        first = shown[0].error if shown and not shown[0].ok else rng.probes[min(rng.probes)].error
        raise ScheduleError(f"{_display(sched.path)}: no batch is legal for {dev.name} with this schedule: {first}")
    if not rng.derived:
        bad = [pr for pr in shown if not pr.ok and rng.min <= pr.batch <= rng.max]
        if bad:
            raise ScheduleError(f"{_display(sched.path)}: batch {bad[0].batch} is in {dev.name}'s typed range {rng} "
                                f"but illegal: {bad[0].error}")
    if batch is not None:
        check_batch_in(dev, batch, rng.min, rng.max, kind="derived " if rng.derived else "typed ",
                       prefix=f"{_display(dev.path)}: ")
        if not rng.probes[batch].ok:
            raise ScheduleError(f"{_display(sched.path)}: batch {batch} is illegal: {rng.probes[batch].error}")
    return 0
