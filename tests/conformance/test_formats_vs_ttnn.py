"""The emulator's number formats are bit-exact against the real ttnn host conversions.

The ttnn side (conformance/dump_formats.py, run in .venv-ttnn with the shipped mock N300
cluster descriptor) converts a deterministic value set; the .npz is cached in the temp dir
under a hash of the dump script.  Each emulator function must reproduce every float32 bit
pattern ttnn produced.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import _reference_formats as reference

FLOAT_FORMATS = ("bfloat16_row_major", "bfloat16_tile", "bfloat8_b", "bfloat4_b")
BF16_INPUT_FORMATS = ("bf16in_bfloat8_b", "bf16in_bfloat4_b")


def _emulator():
    try:
        from runtime.emulator import formats
    except ImportError as exc:  # the emulator is a separate work item; say what is missing
        pytest.fail(f"runtime.emulator.formats is not importable ({exc})", pytrace=False)
    return formats


def _emulate(fmt: str, x: np.ndarray, *, from_bf16: bool = False) -> np.ndarray:
    f = _emulator()
    t = torch.from_numpy(np.ascontiguousarray(x))
    if from_bf16:
        t = t.to(torch.bfloat16)  # exact: x holds bf16 values
        assert torch.equal(t.to(torch.float32), torch.from_numpy(x))
    fn = {
        "bfloat16_row_major": f.round_to_bfloat16,
        "bfloat16_tile": f.round_to_bfloat16,
        "bfloat8_b": f.quantize_bfloat8_b,
        "bfloat4_b": f.quantize_bfloat4_b,
        "bf16in_bfloat8_b": f.quantize_bfloat8_b,
        "bf16in_bfloat4_b": f.quantize_bfloat4_b,
    }[fmt]
    out = fn(t)
    assert tuple(out.shape) == x.shape, (fmt, tuple(out.shape), x.shape)
    return out.to(torch.float32).numpy()


def _mismatch_report(name: str, x: np.ndarray, want: np.ndarray, got: np.ndarray, limit: int = 8) -> str | None:
    wb = want.view(np.uint32)
    gb = np.ascontiguousarray(got, dtype=np.float32).view(np.uint32)
    bad = np.argwhere(wb != gb)
    if not len(bad):
        return None
    lines = [f"{name}: {len(bad)} of {x.size} values differ from ttnn; first ones:"]
    for idx in bad[:limit]:
        i = tuple(int(v) for v in idx)
        lines.append(
            f"  at {i}: input {x[i]!r} (0x{x.view(np.uint32)[i]:08x}) ttnn {want[i]!r} (0x{wb[i]:08x}) "
            f"emulator {got[i]!r} (0x{gb[i]:08x})"
        )
    return "\n".join(lines)


def _compare(formats_dump, fmts, *, from_bf16: bool) -> tuple[int, list[str]]:
    _, data, meta = formats_dump()
    checked, failures = 0, []
    for case in meta["cases"]:
        x = data[f"{case}__input"]
        for fmt in fmts:
            key = f"{case}__{fmt}"
            if key not in data:
                continue
            got = _emulate(fmt, x, from_bf16=from_bf16)
            checked += x.size
            report = _mismatch_report(key, x, data[key], got)
            if report:
                failures.append(report)
    return checked, failures


# ---------------------------------------------------------------------------------------------

def test_dump_covers_the_required_values(formats_dump):
    path, data, meta = formats_dump()
    assert meta["ttnn_version"].startswith("0.81."), meta
    assert meta["descriptor"] == "wormhole_n300.yaml"
    inputs = [data[f"{c}__input"] for c in meta["cases"]]
    flat = np.concatenate([x.ravel() for x in inputs])
    assert flat.size >= 100_000 and meta["input_values"] == flat.size
    mags = np.abs(flat[flat != 0])
    assert (flat == 0).sum() > 1000 and np.signbit(flat[flat == 0]).any()  # zeros, negative zeros
    assert (flat < 0).sum() > 10_000  # negatives
    assert mags.min() < 1e-38 and ((mags < 1.17549435e-38) & (mags > 0)).sum() > 1000  # subnormals
    assert (mags < 1e-29).any() and (mags > 1e29).any()  # 1e-30 .. 1e30 and beyond
    assert any(x.shape[-1] % 32 for x in inputs) and any(x.ndim > 1 and x.shape[-2] % 32 for x in inputs)
    assert any(x.ndim == 1 for x in inputs) and any(x.ndim == 4 for x in inputs)
    assert sum(c.startswith("bf16valued_") for c in meta["cases"]) >= 10
    print(f"\nttnn dump {path.name}: {flat.size} input values, {meta['converted_values']} conversions")


def test_dump_follows_the_documented_rules(formats_dump):
    """The dump agrees with the reference's description of the formats (section 1).

    A NumPy statement of those rules lives in _reference_formats.py; the emulator is not
    involved here: this proves the value set exercises exactly the documented behaviour.
    """
    _, data, meta = formats_dump()
    fns = {
        "bfloat16_row_major": reference.round_to_bfloat16,
        "bfloat16_tile": reference.round_to_bfloat16,
        "bfloat8_b": reference.quantize_bfloat8_b,
        "bfloat4_b": reference.quantize_bfloat4_b,
        "bf16in_bfloat8_b": reference.quantize_bfloat8_b,
        "bf16in_bfloat4_b": reference.quantize_bfloat4_b,
    }
    failures = []
    for case in meta["cases"]:
        x = data[f"{case}__input"]
        for fmt, fn in fns.items():
            key = f"{case}__{fmt}"
            if key in data:
                r = _mismatch_report(key, x, data[key], fn(x))
                if r:
                    failures.append(r)
    assert not failures, "\n".join(failures[:10])


def test_ties_and_truncation_cases_are_live(formats_dump):
    """The tie cases really hit rounding decisions (guards against a vacuous value set)."""
    _, data, _ = formats_dump()
    x = data["ties_bfp8_32x512__input"]
    y = data["ties_bfp8_32x512__bfloat8_b"]
    assert (np.abs(y) > np.abs(x)).sum() > 1000 and (np.abs(y) < np.abs(x)).sum() > 1000
    # halfway-plus-a-bit values: exact rounding would round every one of them up; the
    # truncating alignment drops the extra bit, so those with an even neighbour round down
    xs, ys = data["ties_bfp8_sticky_16x512__input"], data["ties_bfp8_sticky_16x512__bfloat8_b"]
    assert (np.abs(ys) < np.abs(xs)).sum() > 500
    sat_x, sat_y = data["saturation_16x256__input"], data["saturation_16x256__bfloat8_b"]
    assert (np.abs(sat_y) < np.abs(sat_x)).sum() > 500  # saturated at mantissa 127


def test_round_to_bfloat16_matches_ttnn(formats_dump):
    checked, failures = _compare(formats_dump, ("bfloat16_row_major", "bfloat16_tile"), from_bf16=False)
    assert checked >= 100_000
    assert not failures, "\n".join(failures[:10])


def test_quantize_bfloat8_b_matches_ttnn(formats_dump):
    checked, failures = _compare(formats_dump, ("bfloat8_b",), from_bf16=False)
    assert checked >= 100_000
    assert not failures, "\n".join(failures[:10])


def test_quantize_bfloat4_b_matches_ttnn(formats_dump):
    checked, failures = _compare(formats_dump, ("bfloat4_b",), from_bf16=False)
    assert checked >= 100_000
    assert not failures, "\n".join(failures[:10])


def test_bfloat16_tensors_quantize_like_ttnn(formats_dump):
    """torch bfloat16 input (ttnn got genuine bfloat16 through DLPack, as from_torch does)."""
    checked, failures = _compare(formats_dump, BF16_INPUT_FORMATS, from_bf16=True)
    assert checked >= 100_000
    assert not failures, "\n".join(failures[:10])


def test_values_checked_total(formats_dump):
    _, data, meta = formats_dump()
    total = sum(
        data[f"{c}__input"].size for c in meta["cases"] for f in FLOAT_FORMATS + BF16_INPUT_FORMATS
        if f"{c}__{f}" in data
    )
    assert total == meta["converted_values"]
    print(f"\n{meta['input_values']} input values, {total} (value, format) pairs compared bit-exactly")
