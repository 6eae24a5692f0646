"""Which cost-model constant moves a prediction most: elasticities d ln(time) / d ln(constant).

An elasticity of 0.6 means a 10 % larger constant makes the prediction 6 % slower. Computed by central
differences (each constant +-1 %) on the build's own ops, for the whole build and for every op, so
`explain --why` can say which fitted constant (compiler/cost_fit.py) or prior each prediction rests on.
The end-to-end iteration time (compiler/e2e_model.py) gets the same treatment for the host constants (PCIe,
host enqueue, host speed) and the device file's op-to-op gap, per runner.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from . import e2e_model
from .cost_model import CONSTANTS, FITTED, Constants, predict

_STEP = 0.01


@dataclass
class Sensitivity:
    total: dict[str, float]              # constant -> elasticity of the summed device-kernel time
    per_op: list[dict[str, float]]       # the same for each op, in manifest order

    def top(self, which: dict[str, float], n: int = 3, fitted_only: bool = False) -> list[tuple[str, float]]:
        items = [(k, v) for k, v in which.items() if not fitted_only or k in FITTED]
        return sorted(items, key=lambda kv: -abs(kv[1]))[:n]


def sensitivity(manifest: dict, device, constants: Constants = CONSTANTS) -> Sensitivity:
    base = predict(manifest, device, constants)
    t0 = base.device_kernel_us
    op0 = [op.us for op in base.ops]
    total, per_op = {}, [dict() for _ in op0]
    for name, value in asdict(constants).items():
        up = predict(manifest, device, replace(constants, **{name: value * (1 + _STEP)}))
        down = predict(manifest, device, replace(constants, **{name: value * (1 - _STEP)}))
        total[name] = (up.device_kernel_us - down.device_kernel_us) / (2 * _STEP * t0)
        for i, (u, d, t) in enumerate(zip(up.ops, down.ops, op0)):
            per_op[i][name] = (u.us - d.us) / (2 * _STEP * t) if t else 0.0
    return Sensitivity(total, per_op)


OP_GAP = "op_dispatch_us"


def e2e_sensitivity(manifest: dict, pred, runner: e2e_model.Runner,
                    host: e2e_model.HostTable = e2e_model.HOST) -> dict[str, float]:
    """Elasticity of one runner's predicted iteration time to each host constant and to the op-to-op gap."""
    t0 = e2e_model.predict_e2e(manifest, pred, runner, host).iteration_us
    out = {}
    for name in e2e_model.host_constants_dict(host.constants):
        t = [e2e_model.predict_e2e(manifest, pred, runner, host, e2e_model.perturbed(host.constants, name, f)).iteration_us
             for f in (1 + _STEP, 1 - _STEP)]
        out[name] = (t[0] - t[1]) / (2 * _STEP * t0)
    t = [e2e_model.predict_e2e(manifest, pred, runner, host, op_gap_us=pred.op_dispatch_us * f).iteration_us
         for f in (1 + _STEP, 1 - _STEP)]
    out[OP_GAP] = (t[0] - t[1]) / (2 * _STEP * t0)
    return out


def _fmt(items) -> str:
    return ", ".join(f"{k}{'*' if k in FITTED or k in e2e_model.FITTED_HOST else ''} {v:+.2f}" for k, v in items)


def render(manifest: dict, pred, sens: Sensitivity) -> str:
    out = ["", "why: elasticity of predicted time to each constant (d ln t / d ln c; * = fitted on "
           "compiler/cost_data/microbench.yaml, else a prior)",
           f"  whole build: {_fmt(sens.top(sens.total, 5))}"]
    seen = {}
    for op, cost, e in zip(manifest["ops"], pred.ops, sens.per_op):
        key = (cost.role, round(cost.us, 3))
        if key not in seen:
            seen[key] = (cost, e, 0)
        c, ee, n = seen[key]
        seen[key] = (c, ee, n + 1)
    out.append(f"  {'op role':22} {'ops':>4} {'us each':>8}  {'moved most by':48} most by a fitted constant")
    for (role, _), (cost, e, n) in sorted(seen.items(), key=lambda kv: -kv[1][0].us * kv[1][2]):
        top = sens.top(e, 1)[0]
        fit = sens.top(e, 1, fitted_only=True)[0]
        out.append(f"  {role:22} {n:>4} {cost.us:>8.1f}  {_fmt([top]):48} {_fmt([fit])}")
    out += ["", "why, end to end: elasticity of the iteration time to the host constants and the op-to-op gap "
            "(* = fitted on compiler/cost_data/host_io.yaml; device-kernel constants act as above, through the kernels)"]
    wormhole = str(manifest.get("arch", "")).startswith("wormhole")
    for runner in e2e_model.what_ifs(manifest, wormhole):
        e = e2e_sensitivity(manifest, pred, runner)
        out.append(f"  {runner.label:40} {_fmt(sorted(e.items(), key=lambda kv: -abs(kv[1]))[:4])}")
    return "\n".join(out)
