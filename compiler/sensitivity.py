"""Which cost-model constant moves a prediction most: elasticities d ln(time) / d ln(constant).

An elasticity of 0.6 means a 10 % larger constant makes the prediction 6 % slower. Computed by central
differences (each constant +-1 %) on the build's own ops, for the whole build and for every op, so
`explain --why` can say which fitted constant (compiler/cost_fit.py) or prior each prediction rests on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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


def _fmt(items) -> str:
    return ", ".join(f"{k}{'*' if k in FITTED else ''} {v:+.2f}" for k, v in items)


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
    return "\n".join(out)
