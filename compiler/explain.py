"""`python -m compiler explain BUILD_DIR`: where the predicted device time goes.

Reads the build's manifest.json, prices every op again with compiler/cost_model.py on the build's device
file, and prints the time by role, then the ops ranked by predicted time with their bottleneck (compute,
DRAM or NoC) and their L1 use per core. `--why` adds which cost-model constant moves each prediction most
(compiler/sensitivity.py); `--csv PATH` writes the predictions as tt-metal's ops_perf_results CSV
(compiler/perf_csv.py), which tt-perf-report reads. The end-to-end section (compiler/e2e_model.py) adds host
enqueue, op-to-op gaps, PCIe transfers and the two-queue overlap: eager and trace + 2 CQ, on one chip, on the
build's mesh (manifest "runner"; absent = eager, 1 CQ, 1 chip) and, for a Wormhole build, N300 and T3000 meshes.
"""
from __future__ import annotations

import json
from pathlib import Path

from .cost_model import Prediction, predict
from .errors import ScheduleError, UserError
from .schedule import SCHEDULE_ROOT, find_device, load_device

_REPO = SCHEDULE_ROOT.parent


def load_manifest(build_dir: str | Path) -> dict:
    d = Path(build_dir)
    if not d.exists():
        raise UserError(f"build directory {d} does not exist; pass a directory written by `python -m compiler build`")
    path = d / "manifest.json" if d.is_dir() else d
    if not path.is_file():
        raise UserError(f"{d} has no manifest.json; pass a directory written by `python -m compiler build`")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON (line {e.lineno}: {e.msg}); rebuild with `python -m compiler build`") from None
    need = ("device", "batch", "seq_len", "grid", "model", "ops")
    if not isinstance(m, dict) or any(k not in m for k in need) or not isinstance(m["ops"], list):
        missing = [k for k in need if not isinstance(m, dict) or k not in m]
        raise UserError(f"{path} is not a compiler manifest" + (f" (missing {', '.join(missing)})" if missing else "")
                        + "; rebuild with `python -m compiler build`")
    return m


def device_of(manifest: dict):
    """The build's device: its recorded device file if it is still there, else the shipped device by name."""
    rel = manifest.get("device_file")
    try:
        if rel and (_REPO / rel).is_file():
            return load_device(_REPO / rel)
        return find_device(str(manifest["device"]))
    except ScheduleError as e:
        raise UserError(f"cannot load the build's device '{manifest['device']}': {e}") from None


def predict_manifest(manifest: dict, device=None, where: str = "manifest.json") -> Prediction:
    device = device or device_of(manifest)
    try:
        return predict(manifest, device)
    except UserError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
        raise UserError(f"{where} does not describe its ops as this compiler writes them "
                        f"({e.__class__.__name__}: {e}); rebuild with `python -m compiler build`") from None


def _group(ops) -> list[tuple[list, str]]:
    """Ops that are the same op in every encoder layer (same role, same price) share one line."""
    groups: dict[tuple, list] = {}
    for op in ops:
        key = (op.role, op.kind, round(op.us, 3), op.layer is None and op.name)
        groups.setdefault(key, []).append(op)
    out = []
    for members in groups.values():
        layers = [m.layer for m in members if m.layer is not None]
        if len(members) > 1 and len(layers) == len(members):
            label = f"layer{min(layers)}-{max(layers)}.{members[0].name.split('.', 1)[-1]}"
        else:
            label = members[0].name
        out.append((members, label))
    return out


def _kb(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n else "-"


def headline(manifest: dict, pred: Prediction) -> list[str]:
    gx, gy = manifest["grid"]
    lines = [f"{manifest['model'].get('name', '?')} on {manifest['device']} batch {manifest['batch']}, grid {gx}x{gy}: "
             f"predicted {pred.device_kernel_us / 1e3:.2f} ms of device kernels -> {pred.samples_per_s:.1f} sentences/s",
             f"  (+ {len(pred.ops)} ops x {pred.op_dispatch_us:g} us op-to-op dispatch = {pred.dispatch_total_us / 1e3:.2f} ms "
             f"-> {pred.samples_per_s_with_dispatch:.1f} sentences/s; published device figures leave dispatch out)"]
    return lines


def end_to_end(manifest: dict, pred: Prediction) -> list[str]:
    """Predicted sentences/s device-only and end to end, per runner (compiler/e2e_model.py)."""
    from .e2e_model import predict_e2e, runner_of, what_ifs

    own = runner_of(manifest)
    b = own.batch_per_chip
    lines = ["", f"end to end (compiler/e2e_model.py; build runner: {own.label}, batch {b} per chip):",
             f"  {'runner':40} {'sentences/s':>11} {'iteration ms':>12} {'writes':>7} {'host':>7} {'device':>7} "
             f"{'reads':>6}  bound",
             f"  {'device kernels only (per chip)':40} {b / (pred.device_kernel_us * 1e-6):>11.1f} "
             f"{pred.device_kernel_us / 1e3:>12.2f}"]
    for r in what_ifs(manifest, wormhole=str(manifest.get("arch", "")).startswith("wormhole")):
        e = predict_e2e(manifest, pred, r)
        mark = " *" if r == own else ""
        lines.append(f"  {r.label + mark:40} {e.samples_per_s:>11.1f} {e.iteration_us / 1e3:>12.2f} "
                     f"{e.writes_us / 1e3:>7.2f} {e.host_us / 1e3:>7.2f} {e.device_us / 1e3:>7.2f} {e.reads_us / 1e3:>6.2f}"
                     f"  {e.bound}")
    lines.append("  (ms per iteration; * the build's own runner; writes/reads: all chips' PCIe transfers; host: enqueue "
                 "time; device: one chip's ops with gaps. Not modelled: host tensor conversion, remote-chip dispatch)")
    return lines


def render(manifest: dict, pred: Prediction, top: int = 25, per_op: bool = False) -> str:
    out = headline(manifest, pred)
    counts: dict[str, int] = {}
    for op in pred.ops:
        counts[op.bottleneck] = counts.get(op.bottleneck, 0) + 1
    out.append("  bottlenecks: " + ", ".join(f"{k} {v} ops" for k, v in sorted(counts.items(), key=lambda x: -x[1])))
    out += end_to_end(manifest, pred)
    total = pred.device_kernel_us
    out += ["", "by role:", f"  {'role':22} {'ops':>4} {'total ms':>9} {'share':>6} {'each us':>8}  bottleneck"]
    for role, n, t in pred.by_role():
        example = next(op for op in pred.ops if op.role == role)
        out.append(f"  {role:22} {n:>4} {t / 1e3:>9.2f} {100 * t / total:>5.1f}% {t / n:>8.1f}  {example.bottleneck}")
    groups = _group(pred.ops) if not per_op else [([op], op.name) for op in pred.ops]
    ranked = sorted(groups, key=lambda g: (-g[0][0].us * len(g[0]), g[1]))
    shown = ranked if top <= 0 else ranked[:top]
    what = "ops" if per_op else "ops (the same op of every encoder layer on one line)"
    out += ["", f"{what} ranked by predicted time ({'all' if len(shown) == len(ranked) else f'top {len(shown)} of {len(ranked)}'}"
            f"{'' if len(shown) == len(ranked) else '; --top 0 for all'}):",
            f"  {'#':>3} {'op':30} {'count':>5} {'us each':>8} {'share':>6}  {'bound':7} {'compute':>8} {'DRAM':>7} "
            f"{'NoC':>7}  {'L1/core out':>11} {'live':>8}  what"]
    for i, (ops, label) in enumerate(shown, 1):
        op = ops[0]
        out.append(f"  {i:>3} {label[:30]:30} {len(ops):>5} {op.us:>8.1f} {100 * op.us * len(ops) / total:>5.1f}%  "
                   f"{op.bottleneck:7} {op.compute_us:>8.1f} {op.dram_us:>7.1f} {op.noc_us:>7.1f}  "
                   f"{_kb(op.l1_bytes_per_core):>11} {_kb(op.live_l1_bytes_per_core):>8}  {op.detail}")
    peak = manifest.get("peak_l1_bytes_per_core")
    l1 = (manifest.get("device_spec") or {}).get("l1_bytes_per_core")
    if peak and l1:
        out += ["", f"peak L1 {peak} B/core of {l1} ({100 * peak / l1:.0f}%)"]
    return "\n".join(out)


def run_explain(build_dir: str, top: int = 25, per_op: bool = False, csv_path: str | None = None,
                why: bool = False) -> int:
    manifest = load_manifest(build_dir)
    device = device_of(manifest)
    pred = predict_manifest(manifest, device, where=str(Path(build_dir) / "manifest.json"))
    notes = []
    if manifest.get("device_sha256") and manifest["device_sha256"] != device.sha256:
        notes.append(f"note: {device.path} changed since this build; prices use the current file")
    stored = manifest.get("predicted_samples_per_s")
    if stored is not None and abs(stored - pred.samples_per_s) > 0.05 * stored:
        notes.append(f"note: the manifest recorded {stored} sentences/s; the current cost model says {pred.samples_per_s:.1f}")
    print(render(manifest, pred, top, per_op))
    if why:
        from .sensitivity import render as render_why, sensitivity

        print(render_why(manifest, pred, sensitivity(manifest, device)))
    if csv_path:
        from .perf_csv import write_csv

        try:
            n = write_csv(csv_path, manifest, pred)
        except OSError as e:
            raise UserError(f"cannot write --csv {csv_path}: {e.strerror or e}; pick another path") from None
        print(f"wrote {n} predicted ops to {csv_path} (tt-metal ops_perf_results columns; read it with tt-perf-report)")
    for n in notes:
        print(n)
    return 0
