"""Fit the cost model's constants on Tenstorrent's published per-op micro-benchmarks.

    python -m compiler.cost_fit            # fit, print every table row predicted vs measured
    python -m compiler.cost_fit --write    # also write compiler/cost_data/constants.yaml (what CONSTANTS loads)

The table (compiler/cost_data/microbench.yaml) holds GEMM device utilizations per size, dtype and fidelity on
an 8x8 N150, DRAM bandwidths and SFPU cycles per tile, each cited. Every GEMM row is priced by the cost model
itself, as the op the benchmark ran (its program config derived as the benchmark derives it), so the fitted values
are the ones the model needs to reproduce those measurements; an SFPU row measures its constant directly. Least squares on log(predicted / measured) with
scipy.optimize.least_squares from the priors: no randomness, the same table gives the same constants.
No end-to-end BERT figure is read here.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from . import cost_model
from .cost_model import FITTED, FITTED_FILE, Constants
from .schedule import find_device

TABLE = Path(__file__).parent / "cost_data" / "microbench.yaml"
_TILE = 32
# Widest output subblock first, as the benchmark's get_subblock_sizes picks it for a sharded output (h = 1).
_SUBBLOCK_W = (8, 7, 6, 5, 4, 3, 2, 1)


@dataclass(frozen=True)
class Row:
    """One measurement: what the cost model prices, and the measured value in the same unit."""
    group: str                     # e.g. "gemm bfloat8_b LoFi", "dram", "sfpu"
    label: str
    measured: float                # ns of device kernel (GEMM), GB/s (DRAM) or cycles per tile (SFPU)
    manifest: dict | None = None   # the op as a one-op manifest (GEMM rows)


def load_table(path: Path = TABLE) -> tuple[dict, list[Row]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    engine = data["engine"]
    rows = []
    for family in data["gemm"]:
        dtype, fid = family["dtype"], family["fidelity"]
        for m, k, n, div, util in family["rows"]:
            # Device-based utilization = ideal cycles / measured cycles (GEMM_FLOPS.md, Utilization derivation).
            ideal = m * k * n / _TILE ** 3 * engine["cycles_per_tile"][fid] / 64
            ns = ideal / (util / 100) / engine["clock_ghz"]
            rows.append(Row(f"gemm {dtype} {fid}", f"{m}x{k}x{n}", ns, _gemm_manifest(m, k, n, div, dtype, fid)))
    for name, (lo, hi) in data["dram"]["measured_gb_s"].items():
        rows.append(Row("dram", name, (lo + hi) / 2))
    for constant, cycles, _source in data.get("sfpu") or []:
        rows.append(Row("sfpu", constant, float(cycles)))
    return data, rows


def _gemm_manifest(m: int, k: int, n: int, div: int, dtype: str, fidelity: str) -> dict:
    """The benchmark's matmul on an 8x8 grid as the one op of a manifest (test_matmul_2d_host_perf's configs)."""
    per_m, per_n = m // 8 // _TILE, n // 8 // _TILE
    sub_w = next(w for w in _SUBBLOCK_W if per_n % w == 0)
    op = {"name": f"gemm_{m}x{k}x{n}", "kind": "linear", "role": "gemm", "ttnn_op": "ttnn.matmul", "layer": None,
          "dtype": dtype, "math_fidelity": fidelity, "output_shapes": [[m, n]],
          "memory": {"buffer": "L1", "layout": "BLOCK_SHARDED", "shard_shape": [m // 8, n // 8]},
          "weights": [{"key": "in1", "shape": [k, n], "dtype": dtype}],
          "program_config": {"type": "MatmulMultiCoreReuseMultiCastProgramConfig",
                             "compute_with_storage_grid_size": [8, 8], "in0_block_w": k // 8 // _TILE // div,
                             "out_subblock_h": 1, "out_subblock_w": sub_w, "per_core_M": per_m, "per_core_N": per_n,
                             "transpose_mcast": False, "fused_activation": None}}
    return {"model": {"hidden_size": k, "num_heads": 1}, "seq_len": m, "batch": 1, "grid": [8, 8],
            "hidden_cores": 8, "ops": [op]}


def predict_row(row: Row, constants: Constants, device) -> float:
    if row.group == "sfpu":         # one SFPU function alone: the constant is its cycles per tile
        return getattr(constants, row.label)
    if row.manifest is None:        # DRAM: what the model assumes a whole-chip read reaches
        return device.dram_bandwidth_gb_s * constants.dram_efficiency
    return cost_model.predict(row.manifest, device, constants).device_kernel_us * 1e3


@dataclass
class Fit:
    constants: Constants
    rows: list[Row]
    predicted: list[float]
    stderr: dict[str, float]       # relative standard error of each fitted constant (inf: not determined)

    def errors(self) -> list[float]:
        return [p / r.measured - 1 for p, r in zip(self.predicted, self.rows)]

    def summary(self) -> dict:
        err = self.errors()
        groups: dict[str, list[float]] = {}
        for r, e in zip(self.rows, err):
            groups.setdefault(r.group, []).append(e)
        return {"rows": len(self.rows),
                "rms_error_pct": round(100 * math.sqrt(sum(e * e for e in err) / len(err)), 1),
                "max_abs_error_pct": round(100 * max(abs(e) for e in err), 1),
                "max_abs_error_pct_by_group": {g: round(100 * max(abs(e) for e in es), 1) for g, es in groups.items()}}


def fit(table: Path = TABLE, device_name: str = "wormhole_n150") -> Fit:
    from scipy.optimize import least_squares

    data, rows = load_table(table)
    device = find_device(device_name)
    prior = Constants()
    x0 = np.log([getattr(prior, k) for k in FITTED])
    measured = np.log([r.measured for r in rows])

    def constants_at(x) -> Constants:
        return replace(prior, **{k: float(v) for k, v in zip(FITTED, np.exp(x))})

    def residuals(x):
        c = constants_at(x)
        return np.log([predict_row(r, c, device) for r in rows]) - measured

    # Bounds keep each constant physical (a fraction stays <= 1); the fit works on logs, so they are ratios.
    lo = np.log([_BOUNDS[k][0] for k in FITTED])
    hi = np.log([_BOUNDS[k][1] for k in FITTED])
    # A bottleneck that does not bind at the start has no gradient (op time is a max of costs), so the fit also
    # starts from a fixed grid of values for those; the best of the runs wins. Deterministic.
    sol = None
    for scales in itertools.product(*(_STARTS.get(k, (1.0,)) for k in FITTED)):
        run = least_squares(residuals, x0 + np.log(scales), bounds=(lo, hi), method="trf", diff_step=1e-3)
        if sol is None or run.cost < sol.cost - 1e-12:
            sol = run
    best = constants_at(sol.x)
    # Relative standard errors from the Jacobian in log space (d log prediction / d log constant).
    dof = max(1, len(rows) - len(FITTED))
    s2 = float(sol.fun @ sol.fun) / dof
    jtj = sol.jac.T @ sol.jac
    stderr = {}
    for i, k in enumerate(FITTED):
        if np.abs(sol.jac[:, i]).max() < 1e-6:
            stderr[k] = math.inf
    cov = np.linalg.pinv(jtj) * s2
    for i, k in enumerate(FITTED):
        stderr.setdefault(k, float(math.sqrt(max(cov[i, i], 0.0))))
    return Fit(best, rows, [predict_row(r, best, device) for r in rows], stderr)


_STARTS = {"dram_reader_bytes_per_cycle": (0.25, 0.5, 1.0), "dram_reader_tile_cycles": (0.3, 1.0, 3.0)}
_BOUNDS = {"unpack_bytes_per_cycle": (8.0, 256.0), "matmul_call_cycles": (1.0, 1000.0),
           "kernel_launch_cycles": (100.0, 20000.0),
           "dram_reader_bytes_per_cycle": (1.0, 64.0), "dram_reader_tile_cycles": (0.1, 500.0),
           "dram_efficiency": (0.3, 1.0), "sfpu_exp_tile_cycles": (16.0, 2000.0)}


def constants_yaml(result: Fit, table: Path = TABLE) -> str:
    sha = hashlib.sha256(table.read_bytes()).hexdigest()
    doc = {"constants": {k: float(f"{getattr(result.constants, k):.4g}") for k in FITTED},
           "relative_stderr": {k: (None if math.isinf(v) else round(v, 3)) for k, v in result.stderr.items()},
           "fit": result.summary()}
    head = ("# Written by `python -m compiler.cost_fit --write`; do not edit by hand.\n"
            f"# Fitted on {table.relative_to(table.parents[2])} (sha256 {sha[:16]}), least squares on\n"
            "# log(predicted / measured); no end-to-end BERT figure enters. compiler/cost_model.py loads `constants`.\n")
    return head + yaml.safe_dump(doc, sort_keys=False, width=120)


def render(result: Fit) -> str:
    out = [f"{'group':24} {'row':30} {'measured':>11} {'predicted':>11} {'error':>7}"]
    for r, p in zip(result.rows, result.predicted):
        unit = {"dram": "GB/s", "sfpu": "cy"}.get(r.group, "us")
        scale = 1e-3 if r.manifest is not None else 1
        out.append(f"{r.group:24} {r.label:30} {r.measured * scale:>9.1f}{unit:>2} {p * scale:>9.1f}{unit:>2} "
                   f"{100 * (p / r.measured - 1):>+6.1f}%")
    s = result.summary()
    out += ["", f"{s['rows']} rows: rms error {s['rms_error_pct']}%, largest {s['max_abs_error_pct']}%",
            "", "fitted constants (relative standard error):"]
    prior = Constants()
    for k in FITTED:
        se = result.stderr[k]
        out.append(f"  {k:30} {getattr(result.constants, k):10.4g}   (prior {getattr(prior, k):g}; "
                   f"{'not determined by the table' if math.isinf(se) else f'+-{100 * se:.0f}%'})")
    rest = [k for k in asdict(prior) if k not in FITTED]
    out.append("  not fitted (priors; the table has no measurement of them): " + ", ".join(rest))
    from .e2e_model import FITTED_HOST, HOST

    out += ["", "end-to-end host constants (compiler/e2e_model.py, fitted on compiler/cost_data/host_io.yaml): "
            + ", ".join(f"{k} {getattr(HOST.constants, k):.4g}" for k in FITTED_HOST)]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write {FITTED_FILE.name} beside the table")
    args = ap.parse_args(argv)
    result = fit()
    print(render(result))
    if args.write:
        FITTED_FILE.write_text(constants_yaml(result), encoding="utf-8")
        print(f"wrote {FITTED_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
