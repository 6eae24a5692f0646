"""Compute kernel configs: math fidelity, SFPU approximations and destination accumulation per op family.

Every matmul, softmax and layernorm the compiler emits gets an explicit `compute_kernel_config=`, built from
the schedule's `compute` section, so the numerics on the chip are the ones the schedule states.

Which class, per TT-NN API level (facts from the ttnn 0.81.1 wheel and tt-metal v0.55):
- 0.81: `ttnn.WormholeComputeKernelConfig(math_fidelity, math_approx_mode, fp32_dest_acc_en, packer_l1_acc)`
  (its constructor in the wheel; Blackhole uses the same class);
- v0.55 on Grayskull: `ttnn.GrayskullComputeKernelConfig(math_fidelity, math_approx_mode)`; Grayskull's
  destination registers have no fp32 mode and its packer no L1 accumulation, so those must stay off.
"""
from __future__ import annotations

from dataclasses import dataclass

from .common import MAX_SUBBLOCK_TILES, require

# What ttnn 0.81 runs when an op gets no compute_kernel_config (ttnn/cpp/ttnn/operations/core/compute_kernel/
# compute_kernel_config.cpp init_device_compute_kernel_config, as each op calls it: matmul with a program config
# and a non-fp32 output, softmax, layernorm). A schedule states only what it changes.
COMPUTE_DEFAULTS = {
    "matmul": {"math_fidelity": "LoFi", "math_approx_mode": False, "fp32_dest_acc_en": False, "packer_l1_acc": True},
    "softmax": {"math_fidelity": "HiFi4", "math_approx_mode": True, "fp32_dest_acc_en": False, "packer_l1_acc": False},
    "layernorm": {"math_fidelity": "HiFi4", "math_approx_mode": False, "fp32_dest_acc_en": True, "packer_l1_acc": False},
}

COMPUTE_DEFAULTS["attention_matmul"] = COMPUTE_DEFAULTS["matmul"]   # the batched attention matmuls: the same op

# With fp32 accumulation the destination register file holds half as many tiles (tt-bert-reference.md §3:
# out_subblock_h * out_subblock_w <= 4 with fp32 accumulation).
MAX_SUBBLOCK_TILES_FP32_DEST = 4


@dataclass(frozen=True)
class ComputeConfig:
    """One op family's compute_kernel_config as data: the ttnn class and its fields."""
    family: str
    ttnn_class: str
    fields: dict

    @property
    def name(self) -> str:
        return f"{self.family.upper()}_COMPUTE_CONFIG"

    @property
    def max_subblock_tiles(self) -> int:
        return MAX_SUBBLOCK_TILES_FP32_DEST if self.fields.get("fp32_dest_acc_en") else MAX_SUBBLOCK_TILES

    def as_dict(self) -> dict:
        return {"type": self.ttnn_class, **self.fields}

    def expr(self) -> str:
        parts = [f"math_fidelity=ttnn.MathFidelity.{self.fields['math_fidelity']}"]
        parts += [f"{k}={v!r}" for k, v in self.fields.items() if k != "math_fidelity"]
        return f"ttnn.{self.ttnn_class}(" + ", ".join(parts) + ")"


def compute_config(family: str, settings: dict, *, arch: str) -> ComputeConfig:
    """The config class and fields the device's API level has, from the schedule's settings over ttnn's defaults;
    refuses settings the hardware lacks."""
    key = f"compute.{family}"
    if arch == "grayskull":
        for flag in ("fp32_dest_acc_en", "packer_l1_acc"):
            require(not settings.get(flag), f"Grayskull has no {flag}", f"{key}.{flag} is true", f"{key}.{flag}")
        merged = {**COMPUTE_DEFAULTS[family], **settings}
        return ComputeConfig(family, "GrayskullComputeKernelConfig",
                             {"math_fidelity": merged["math_fidelity"], "math_approx_mode": merged["math_approx_mode"]})
    merged = {**COMPUTE_DEFAULTS[family], **settings}
    fields = {k: merged[k] for k in ("math_fidelity", "math_approx_mode", "fp32_dest_acc_en", "packer_l1_acc")}
    return ComputeConfig(family, "WormholeComputeKernelConfig", fields)
