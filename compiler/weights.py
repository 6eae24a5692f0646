"""How each IR parameter is made from the HF state dict (transpose, QKV regrouping, padding).

The emitted program's `prepare_weights` performs the same transforms with the same names; the
interpreter uses these to run the lowered IR, so a drift between the two shows up in the tests.
"""
from __future__ import annotations

import torch


def regroup_columns(parts: list[torch.Tensor], groups: int) -> torch.Tensor:
    """Concatenate [q | k | v] per column group: [..., N] x 3 -> [..., 3N] laid out as G blocks of [q_g k_g v_g].

    With groups == the grid columns across the hidden size, each core's column block holds the q, k
    and v of its own heads, which lets the head split run core-locally.
    """
    lead = parts[0].shape[:-1]
    split = [p.reshape(*lead, groups, -1) for p in parts]
    return torch.cat(split, dim=-1).reshape(*lead, -1)


def pad_last(t: torch.Tensor, multiple: int) -> torch.Tensor:
    extra = (-t.shape[-1]) % multiple
    return torch.nn.functional.pad(t, (0, extra)) if extra else t


def prepare(attrs: dict, state_dict: dict[str, torch.Tensor]) -> torch.Tensor:
    """Value of one `param` node, in float32."""
    src = [state_dict[name].float() for name in attrs["sources"]]
    prep = attrs["prep"]
    if prep == "identity":
        return src[0]
    if prep == "linear_weight":          # HF [out, in] -> TT-NN [in, out]
        return pad_last(src[0].t(), attrs.get("pad_to", 1))
    if prep == "linear_bias":
        return pad_last(src[0], attrs.get("pad_to", 1))
    if prep == "qkv_weight":
        return regroup_columns([w.t() for w in src], attrs["groups"])
    if prep == "qkv_bias":
        return regroup_columns(src, attrs["groups"])
    raise ValueError(f"unknown parameter preparation '{prep}'")
