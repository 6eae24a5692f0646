"""The whole build: resolve the model, trace, rewrite, schedule, emit, write atomically."""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import families
from .emit import render
from .errors import ScheduleError, UserError
from .lower import lower
from .manifest import manifest
from .model_source import resolve_model
from .passes.pipeline import check_lowered, run_passes
from .program import Program
from .runner import check_target, make_runner
from .schedule import (Device, Schedule, check_seq_len, default_schedule_for, find_device, find_schedule,
                       with_precision)
from .target import above_typed_range, check_typed_range
from .trace import trace_bert

TILE = 32

def device_for_arch(arch: str, batch: int, eth_dispatch: bool) -> Device:
    """The `--arch gs|wh` shortcuts; WH batch 8 needs the ethernet-dispatch grid (8x8), which a ttnn 0.81 program
    gets by opening the device with DispatchCoreConfig(DispatchCoreType.ETH) (the device file's open_device)."""
    if arch == "gs":
        if eth_dispatch:
            raise UserError("--eth-dispatch applies to Wormhole only; drop it for --arch gs")
        return find_device("grayskull_e150")
    if arch == "wh":
        if eth_dispatch:
            return find_device("wormhole_n300_eth")
        device = find_device("wormhole_n300")
        if above_typed_range(device, batch):
            raise UserError(f"--arch wh --batch {batch} needs the 8x8 grid with ethernet dispatch: pass --eth-dispatch")
        return device
    raise UserError(f"unknown arch '{arch}'; use gs (Grayskull E150) or wh (Wormhole N300), or --device FILE")


@dataclass
class BuildResult:
    program: Program
    source: str
    manifest: dict
    timings: dict
    graph: object        # the traced graph after the passes, before lowering (what `build --search` explores)


def check_seq_len_arg(seq_len: int) -> None:
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len <= 0 or seq_len % TILE:
        raise UserError(f"--seq-len {seq_len} is not a positive multiple of {TILE} (tile height); use e.g. 128, 256, 384 or 512")


def compile_model(*, batch: int, device: Device, schedule: Schedule | None = None, model: str | None = None,
                  architecture: str | None = None, precision: str = "reference", seq_len: int | None = None,
                  task: str | None = None, dump_ir: Path | None = None, trace: bool = False,
                  mesh_shape: tuple = (1, 1)) -> BuildResult:
    """Build one program. `task` (qa, embed, sequence-classification, token-classification) defaults to the head the
    checkpoint's config.json names; `seq_len` overrides the schedule's (program configs and L1 derive from it);
    `dump_ir` names a directory for the IR after each pass (ir_dumper); `trace` / `mesh_shape` choose the runner."""
    check_target(device, mesh_shape, trace)
    schedule = with_precision(schedule or default_schedule_for(device), precision, device.arch)
    if seq_len is not None:
        check_seq_len_arg(seq_len)
        schedule = replace(schedule, seq_len=seq_len)
    if schedule.device != device.name:
        raise ScheduleError(f"{schedule.path}: schedule is for device '{schedule.device}', not '{device.name}'; "
                            f"pass a schedule written for {device.name}")
    if not device.batch_derived:
        check_typed_range(device, batch)
    src = resolve_model(model)
    config = src.bert_config()
    if architecture is None:
        task = task or src.task
        architecture = families.architecture(src.family, task)
    else:
        task = task or families.task_from_architecture(architecture)
    check_seq_len(schedule, config, from_flag=seq_len is not None)
    if device.batch_derived:   # no typed batch.max: the range is derived for this schedule and model
        from .check_schedule import check_batch
        check_batch(device, schedule, config, batch, architecture=architecture)
    t0 = time.perf_counter()
    graph = trace_bert(config, batch, schedule.seq_len, architecture, task=task)
    if task == "embed":
        graph.meta["pooling"] = src.sentence_pooling()
    t1 = time.perf_counter()
    graph = run_passes(graph, dump=ir_dumper(dump_ir) if dump_ir is not None else None)
    check_lowered(graph)
    t2 = time.perf_counter()
    program = lower(graph, device, schedule, batch, model_name=src.name, config_hash=src.config_hash)
    t3 = time.perf_counter()
    runner = make_runner(program, mesh_shape, trace)
    code = render(program, runner)
    sha = hashlib.sha256(code.encode()).hexdigest()
    t4 = time.perf_counter()
    return BuildResult(program, code, manifest(program, sha, runner),
                       {"trace_s": t1 - t0, "passes_s": t2 - t1, "lower_s": t3 - t2, "emit_s": t4 - t3}, graph)


def ir_dumper(directory: Path):
    """`build --dump-ir DIR`: the traced IR and the IR after each pass (compiler.ir.Graph.dump), one file per stage,
    DIR/NN_<stage>.ir in pipeline order; a pass that changed nothing writes 'unchanged'."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot write --dump-ir {directory}: {e.strerror}; pick another directory") from None
    step = itertools.count()

    def dump(stage: str, text: str) -> None:
        path = directory / f"{next(step):02d}_{stage}.ir"
        try:
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot write {path}: {e.strerror}; pick another --dump-ir directory") from None
    return dump


def write_build(result: BuildResult, out_dir: Path) -> None:
    """Write program.py and manifest.json so that out_dir holds either the old build or the new one, never half."""
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    except OSError as e:
        raise UserError(f"cannot write to {parent}: {e.strerror}; pick another -o directory") from None
    try:
        (tmp / "program.py").write_text(result.source, encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(result.manifest, indent=1) + "\n", encoding="utf-8")
        if out_dir.exists() and not out_dir.is_dir():
            raise UserError(f"-o {out_dir} is a file; pass a directory")
        # Another build may write the same directory at once: move whatever is there aside and retry until our
        # complete directory is the one in place (the last writer wins; each attempt leaves a complete build).
        for _ in range(100):
            if out_dir.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
                try:
                    os.replace(out_dir, old / "build")
                except FileNotFoundError:
                    pass            # the other writer moved it first
                finally:
                    shutil.rmtree(old, ignore_errors=True)
            try:
                os.replace(tmp, out_dir)
                break
            except OSError as e:    # the other writer put its build in place between our two renames
                if not out_dir.is_dir():
                    raise UserError(f"cannot write build to {out_dir}: {e.strerror}; pick another -o directory") from None
        else:
            raise UserError(f"cannot write build to {out_dir}: other builds keep replacing it; build one at a time")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def resolve_target(arch: str | None, device: str | None, schedule: str | None, batch: int, eth_dispatch: bool):
    if device:
        dev = find_device(device)
        if dev.select_env:
            missing = {k: v for k, v in dev.select_env.items() if os.environ.get(k) != v and not eth_dispatch}
            if missing:
                k, v = next(iter(missing.items()))
                shown = v if len(v) <= 80 else v[:77] + "..."
                raise UserError(f"device {dev.name} needs {k}={shown} in the environment (or --eth-dispatch)")
    else:
        dev = device_for_arch(arch or "wh", batch, eth_dispatch)
    sched = find_schedule(schedule) if schedule else None
    return dev, sched
