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

    if not 1 <= args.batch <= 1024:
        raise UserError(f"--batch {args.batch} is not a usable batch size; pass a positive batch within the device's range")
    t0 = time.perf_counter()
    device, schedule = resolve_target(args.arch, args.device, args.schedule, args.batch, args.eth_dispatch)
    result = compile_model(batch=args.batch, device=device, schedule=schedule, model=args.model)
    out = Path(args.output or f"build/{device.name}-b{args.batch}")
    write_build(result, out)
    p = result.program
    print(f"built {p.model_name} for {device.name} batch {p.batch}: grid {p.grid[0]}x{p.grid[1]} {p.orientation}, "
          f"{len(p.ops)} ops, peak L1 {p.peak_l1_bytes_per_core} B/core of {device.l1_bytes_per_core} "
          f"-> {out}/program.py ({time.perf_counter() - t0:.1f} s)")
    return 0


def _schedules(args) -> int:
    from .schedule import BERT_DIR, DEVICE_DIR, load_device, load_schedule

    print(f"{'device':22} {'arch':12} {'grid':6} {'L1/core':>9} {'batch':7} schedule")
    for path in sorted(DEVICE_DIR.glob("*.yaml")):
        dev = load_device(path)
        sched_path = BERT_DIR / f"{dev.name}.yaml"
        sched = str(sched_path.relative_to(BERT_DIR.parent.parent)) if sched_path.is_file() else "-"
        if sched_path.is_file():
            load_schedule(sched_path)
        print(f"{dev.name:22} {dev.arch:12} {dev.grid_x}x{dev.grid_y:<4} {dev.l1_bytes_per_core:>9} "
              f"{dev.batch_min}-{dev.batch_max:<5} {sched}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m compiler", description="Compile Hugging Face BERT to TT-NN programs.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    b = sub.add_parser("build", help="trace, schedule and emit a TT-NN program")
    b.add_argument("--arch", choices=("gs", "wh"), help="seed target shortcut: gs = Grayskull E150, wh = Wormhole N300")
    b.add_argument("--device", help="device name or device YAML file (instead of --arch)")
    b.add_argument("--batch", type=int, required=True)
    b.add_argument("--model", help="HF model id (local cache or shipped config) or checkpoint directory")
    b.add_argument("--schedule", help="schedule YAML (default: schedules/bert/<device>.yaml)")
    b.add_argument("--eth-dispatch", action="store_true", help="Wormhole with ethernet dispatch (8x8 grid)")
    b.add_argument("-o", "--output", help="output directory (default build/<device>-b<batch>)")
    b.set_defaults(func=_build)
    s = sub.add_parser("schedules", help="list devices and schedules")
    s.set_defaults(func=_schedules)
    return p


def main(argv=None) -> int:
    try:
        args = parser().parse_args(argv)
        if not getattr(args, "command", None):
            raise UserError("missing command; use one of: build, schedules (see python -m compiler --help)")
        if args.command == "build" and args.arch and args.device:
            raise UserError("pass either --arch or --device, not both")
        return args.func(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
