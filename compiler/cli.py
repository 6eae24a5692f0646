"""`python -m compiler`: build, list schedules."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as every other usage error
        raise UserError(f"{message} (see: python -m compiler {self.prog.split()[-1]} --help)")


def _build(args) -> int:
    from .build import compile_model, resolve_target, write_build
    from .runner import parse_mesh
    from .target import check_batch_flag

    check_batch_flag(args.batch)
    t0 = time.perf_counter()
    device, schedule = resolve_target(args.arch, args.device, args.schedule, args.batch, args.eth_dispatch)
    if args.search and not device.rates:
        raise UserError(f"--search needs the cost model's rates: {device.path} has no 'rates' section")
    result = compile_model(batch=args.batch, device=device, schedule=schedule, model=args.model, precision=args.precision,
                           seq_len=args.seq_len, task=args.task, dump_ir=args.dump_ir, trace=args.trace,
                           mesh_shape=parse_mesh(args.mesh))
    out = Path(args.output or f"build/{device.name}-b{args.batch}")
    write_build(result, out)
    p = result.program
    print(f"built {p.model_name} ({p.architecture}, task {p.task}) for {device.name} batch {p.batch} x {p.seq_len} tokens: grid {p.grid[0]}x{p.grid[1]} {p.orientation}, "
          f"{len(p.ops)} ops, peak L1 {p.peak_l1_bytes_per_core} B/core of {device.l1_bytes_per_core} "
          f"-> {out}/program.py ({time.perf_counter() - t0:.1f} s)")
    r = result.manifest["runner"]
    if r["trace"] or r["chips"] > 1:
        print(f"runner: {'trace + 2 command queues' if r['trace'] else 'eager'}, mesh {r['mesh_shape'][0]}x"
              f"{r['mesh_shape'][1]} ({r['chips']} chips x batch {r['batch_per_chip']} = {r['chips'] * r['batch_per_chip']} "
              f"sequences per run)" + (f", trace region {r['trace_region_size']} B" if r["trace"] else ""))
    worst = p.l1_plan.min_headroom if p.l1_plan else None
    if worst is not None:
        print(f"L1 plan: buffers and circular buffers fit every op; least headroom {worst.headroom} B at {worst.name} "
              f"(allocator base {device.l1_unreserved_base}; per op in manifest.json 'l1')")
    m = result.manifest
    if m.get("predicted_samples_per_s") is not None:
        print(f"predicted {m['prediction']['device_kernel_ms']:.2f} ms of device kernels per batch -> "
              f"{m['predicted_samples_per_s']:.1f} sentences/s (cost model; python -m compiler explain {out})")
    else:
        print(f"no prediction: {device.path} has no 'rates' section for the cost model")
    if args.search:
        from .search import search

        print(search(graph=result.graph, device=device, schedule=p.schedule, batch=args.batch, model_name=p.model_name,
                     config_hash=p.config_hash).render())
    return 0


def _explain(args) -> int:
    from .explain import run_explain

    code = run_explain(args.build_dir, top=args.top, per_op=args.per_op, csv_path=args.csv, why=args.why)
    if args.plot:
        from .explain import load_manifest
        from .l1_plot import plot_l1

        print(f"per-op L1 plot -> {plot_l1(load_manifest(args.build_dir), args.plot)}")
    return code


def _schedules(args) -> int:
    from .schedule import BERT_DIR, DEVICE_DIR, load_device, load_schedule

    print(f"{'device':22} {'arch':12} {'grid':6} {'L1/core':>9} {'batch':7} schedule")
    derived = False
    for path in sorted(DEVICE_DIR.glob("*.yaml")):
        dev = load_device(path)
        sched_path = BERT_DIR / f"{dev.name}.yaml"
        sched = str(sched_path.relative_to(BERT_DIR.parent.parent)) if sched_path.is_file() else "-"
        if sched_path.is_file():
            load_schedule(sched_path)
        print(f"{dev.name:22} {dev.arch:12} {f'{dev.grid_x}x{dev.grid_y}':6} {dev.l1_bytes_per_core:>9} "
              f"{f'{dev.batch_min}-{dev.batch_max}' if dev.batch_max else 'derived':7} {sched}")
        derived = derived or dev.batch_max is None
    if derived:
        print("derived: the device file sets no batch.max; the range is the batches whose schedule is legal and fits L1 "
              "for the model, from batch.min up (python -m compiler check-schedule DEVICE prints it)")
    return 0


def _check_schedule(args) -> int:
    from .check_schedule import run_check

    return run_check(args.file, batch=args.batch, model=args.model, schedule=args.schedule, device=args.device)


def parser() -> argparse.ArgumentParser:
    from .families import TASKS
    from .schedule import precision_profiles

    p = _Parser(prog="python -m compiler", description="Compile Hugging Face BERT to TT-NN programs.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    b = sub.add_parser("build", help="trace, schedule and emit a TT-NN program")
    b.add_argument("--arch", choices=("gs", "wh"), help="seed target shortcut: gs = Grayskull E150, wh = Wormhole N300 "
                   "(default: wh when no --device is given)")
    b.add_argument("--device", help="device name or device YAML file (instead of --arch)")
    b.add_argument("--batch", type=int, required=True, metavar="N",
                   help="sequences per run, fixed in the program (within the device's batch range: python -m compiler "
                        "schedules)")
    b.add_argument("--model", help="HF model id (local cache or shipped config) or checkpoint directory")
    b.add_argument("--schedule", help="schedule YAML (default: schedules/bert/<device>.yaml)")
    b.add_argument("--precision", choices=precision_profiles(), default="reference",
                   help="reference (default): the schedule's own compute settings, as Tenstorrent's reference ran; "
                        "accurate: erf GELU, exact exp, HiFi2 matmuls with fp32 accumulation (schedules/precision/)")
    b.add_argument("--seq-len", type=int, metavar="N", help="tokens per sequence, a multiple of 32 up to the model's "
                   "max_position_embeddings (default: the schedule's seq_len, 384)")
    b.add_argument("--task", choices=tuple(TASKS), help="head to build: qa, embed (sentence embeddings, pooled as the "
                   "checkpoint's sentence-transformers config says), sequence-classification, token-classification "
                   "(default: the head config.json 'architectures' names; qa when it names none)")
    b.add_argument("--eth-dispatch", action="store_true", help="Wormhole with ethernet dispatch (8x8 grid)")
    b.add_argument("--trace", action="store_true", help="also emit the performant runner: forward captured as a trace, "
                   "inputs written on a second command queue (ttnn 0.81 targets; Grayskull v0.55 has no such runner)")
    b.add_argument("--mesh", metavar="RxC", help="data parallel over a mesh of chips, e.g. 1x2 (N300) or 1x8 (T3000): "
                   "--batch sequences per chip, inputs sharded by batch, weights replicated")
    b.add_argument("-o", "--output", help="output directory (default build/<device>-b<batch>)")
    b.add_argument("--dump-ir", metavar="DIR", help="also write the IR before the passes and after each one to DIR "
                   "(NN_<pass>.ir in pipeline order; 'unchanged' when a pass changed nothing)")
    b.add_argument("--search", action="store_true", help="also try legal alternatives to the schedule and print the "
                   "best predicted beside the reference (the build keeps the schedule's configs)")
    b.set_defaults(func=_build)
    e = sub.add_parser("explain", help="where a build's predicted device time goes, op by op")
    e.add_argument("build_dir", metavar="BUILD_DIR", help="directory written by build (holds manifest.json)")
    e.add_argument("--top", type=int, default=25, help="lines in the ranking (0: all; default 25)")
    e.add_argument("--per-op", action="store_true", help="one line per op instead of one per op role and layer range")
    e.add_argument("--csv", metavar="PATH", help="also write the predictions as tt-metal's ops_perf_results CSV "
                   "(the device profiler's columns; tt-perf-report reads it)")
    e.add_argument("--why", action="store_true", help="also print which cost-model constant moves each prediction most")
    e.add_argument("--plot", metavar="OUT.png", help="also draw per-op L1 (CBs, headroom, buffers) with matplotlib")
    e.set_defaults(func=_explain)
    s = sub.add_parser("schedules", help="list devices and schedules")
    s.set_defaults(func=_schedules)
    c = sub.add_parser("check-schedule", help="validate a device or schedule file: keys, grid, per-batch legality and L1")
    c.add_argument("file", metavar="FILE", help="device or schedule YAML file, or a device name")
    c.add_argument("--batch", type=int, help="check this batch only (default: every batch in range)")
    c.add_argument("--model", help="model whose shapes to check (default: the bert-large config)")
    c.add_argument("--schedule", help="schedule for a device FILE (default: next to it, then schedules/bert/)")
    c.add_argument("--device", help="device for a schedule FILE (default: next to it, then schedules/devices/)")
    c.set_defaults(func=_check_schedule)
    return p


def main(argv=None) -> int:
    try:
        args = parser().parse_args(argv)
        if not getattr(args, "command", None):
            raise UserError("missing command; use one of: build, schedules, check-schedule, explain (see python -m compiler --help)")
        if args.command == "build" and args.arch and args.device:
            raise UserError("pass either --arch or --device, not both")
        return args.func(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
