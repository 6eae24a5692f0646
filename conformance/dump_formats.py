"""Dump ttnn's own host conversions of a deterministic value set (runs in the ttnn venv).

    python -m conformance.dump_formats --out formats.npz
    python -m conformance.dump_formats --probe-descriptor grayskull_e150

Every case is a float32 array; each goes through the real ttnn host path
(``ttnn.Tensor(array, dtype, layout=...)`` then back to float32) as
- ``bfloat16_row_major`` and ``bfloat16_tile``  (ROW_MAJOR / TILE layout, bfloat16)
- ``bfloat8_b`` and ``bfloat4_b``               (TILE layout; block-float with a shared exponent
                                                 per 16 values of a face row; tile padding inside)
and, for bf16-valued inputs, the same block-float conversions fed with *genuine bfloat16*
data through DLPack (the path ``ttnn.from_torch`` takes for a torch bfloat16 tensor):
``bf16in_bfloat8_b`` / ``bf16in_bfloat4_b``.

The .npz holds ``<case>__input`` (float32), ``<case>__<format>`` (float32, same shape) and
``meta`` (JSON: ttnn version, descriptor, case list, counts).  Needs numpy and ttnn only.
"""
from __future__ import annotations

import argparse
import os
import json
import sys
from pathlib import Path

import numpy as np

from conformance import mockenv

SEED = 20240607
FLOAT_FORMATS = ("bfloat16_row_major", "bfloat16_tile", "bfloat8_b", "bfloat4_b")
BF16_INPUT_FORMATS = ("bf16in_bfloat8_b", "bf16in_bfloat4_b")


# ---------------------------------------------------------------------------------------------
# value set

def _f32(bits) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def _signs(rs, shape) -> np.ndarray:
    return np.where(rs.random_sample(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def _block_ties(rs, rows: int, cols: int, mant_bits: int, *, sticky: bool) -> np.ndarray:
    """Rows of 16-value groups whose members sit exactly halfway between two values of the
    group's block-float grid (or, with ``sticky``, halfway plus a bit that the aligning
    shift truncates away).  mant_bits = 7 for bfloat8_b, 3 for bfloat4_b (hidden bit included).
    """
    assert cols % 32 == 0
    x = np.zeros((rows, cols), dtype=np.float32)
    top = 2 ** mant_bits - 1  # largest mantissa
    for r in range(rows):
        for g in range(cols // 16):
            e = int(rs.randint(-100, 100))
            step = 2.0 ** (e - (mant_bits - 1))
            m = rs.randint(0, top, size=16)  # k + 0.5 for k in [0, top)
            vals = (m + 0.5) * step
            if sticky:
                # add the value's own last fp32 bit: lost by the truncating alignment shift
                # whenever the value's exponent is below the group's
                own_exp = np.floor(np.log2(vals))
                vals = vals + 2.0 ** (own_exp - 23)
            lead = int(rs.randint(0, 16))
            vals[lead] = (1.0 + rs.randint(0, 2 ** (mant_bits - 1)) / 2 ** (mant_bits - 1)) * 2.0 ** e
            x[r, g * 16 : (g + 1) * 16] = vals * _signs(rs, 16)
    return x


def build_cases(seed: int = SEED) -> dict[str, np.ndarray]:
    rs = np.random.RandomState(seed)
    cases: dict[str, np.ndarray] = {}

    # ordinary activations, shapes that are not multiples of 32
    cases["randn_3x45x70"] = rs.randn(3, 45, 70).astype(np.float32)
    cases["randn_scaled_1x33x65"] = (rs.randn(1, 33, 65) * 37.5).astype(np.float32)

    # wide dynamic range: |x| log-uniform in 1e-30 .. 1e30, both signs
    cases["wide_range_64x1024"] = (_signs(rs, (64, 1024)) * 10.0 ** rs.uniform(-30, 30, (64, 1024))).astype(
        np.float32
    )

    # mixed scales inside each 16-value group: per-value exponent spread of up to 2^+-24
    base = 2.0 ** rs.randint(-60, 60, size=(32, 512 // 16, 1))
    spread = 2.0 ** rs.randint(-24, 25, size=(32, 512 // 16, 16))
    mixed = (rs.uniform(1.0, 2.0, (32, 512 // 16, 16)) * base * spread * _signs(rs, (32, 512 // 16, 16)))
    cases["mixed_scale_groups_32x512"] = mixed.reshape(32, 512).astype(np.float32)

    # one big value and fifteen small ones per group (the small ones lose their bits)
    g = rs.uniform(-1, 1, (32, 256 // 16, 16)) * 2.0 ** rs.randint(-12, 0, (32, 256 // 16, 16))
    lead = rs.randint(0, 16, size=(32, 256 // 16))
    np.put_along_axis(g, lead[..., None], (rs.uniform(64, 128, (32, 256 // 16)) * 1.0)[..., None], axis=2)
    cases["one_large_per_group_32x256"] = g.reshape(32, 256).astype(np.float32)

    # zeros: sparse values, whole zero groups, negative zeros, single non-zero groups
    z = rs.randn(32, 256).astype(np.float32)
    z[rs.random_sample(z.shape) < 0.5] = 0.0
    z[rs.random_sample(z.shape) < 0.1] = -0.0
    z.reshape(32, 16, 16)[:, ::3, :] = 0.0
    single = z.reshape(32, 16, 16)[:, 1::3, :]
    single[...] = 0.0
    single[:, :, 5] = rs.randn(32, single.shape[1]).astype(np.float32)
    cases["zeros_sparse_32x256"] = z

    # subnormals: all-subnormal groups, subnormals beside small normals, beside 1.0
    sub_bits = rs.randint(1, 0x800000, size=(32, 256)).astype(np.uint32)
    sub = _f32(sub_bits) * _signs(rs, (32, 256))
    s3 = sub.reshape(32, 16, 16)
    s3[:, 1::3, 0] = np.float32(1.1754944e-38) * 3  # tiny normals
    s3[:, 2::3, 7] = 1.0
    cases["subnormals_32x256"] = sub.astype(np.float32)

    # exact ties for bfloat8_b and bfloat4_b, and ties whose sticky bit the aligning shift drops
    cases["ties_bfp8_32x512"] = _block_ties(rs, 32, 512, 7, sticky=False)
    cases["ties_bfp8_sticky_16x512"] = _block_ties(rs, 16, 512, 7, sticky=True)
    cases["ties_bfp4_32x256"] = _block_ties(rs, 32, 256, 3, sticky=False)
    cases["ties_bfp4_sticky_16x256"] = _block_ties(rs, 16, 256, 3, sticky=True)

    # exact ties for bfloat16: low 16 bits 0x8000 (and neighbours 0x7fff / 0x8001)
    hi = rs.randint(0x0080, 0x7F00, size=(64, 128)).astype(np.uint32)  # normal exponents
    low = np.full((64, 128), 0x8000, dtype=np.uint32)
    low[:, 1::4] = 0x7FFF
    low[:, 2::4] = 0x8001
    sign = (rs.random_sample((64, 128)) < 0.5).astype(np.uint32) << 31
    cases["ties_bf16_64x128"] = _f32(sign | (hi << 16) | low)

    # mantissas that round up past the top of the block-float grid (saturate, not carry)
    e = rs.randint(-40, 40, size=(16, 256))
    near2 = (2.0 - 2.0 ** -rs.randint(8, 23, size=(16, 256))) * 2.0 ** e
    near2.reshape(16, 16, 16)[:, :, 1::2] *= rs.uniform(0.1, 1.0, (16, 16, 8))
    cases["saturation_16x256"] = (near2 * _signs(rs, (16, 256))).astype(np.float32)

    # extremes: near the largest float32 and the smallest normal
    big = np.float32(3.0e38) * rs.uniform(0.9, 1.13, (8, 64)).astype(np.float32)
    small = np.float32(1.2e-38) * rs.uniform(1.0, 4.0, (8, 64)).astype(np.float32)
    cases["extremes_16x64"] = np.concatenate([big, small]).astype(np.float32) * _signs(rs, (16, 64))

    # odd ranks and shapes (tile padding in both of the last two dims, rank 1, degenerate dims)
    cases["odd_2x3x31x33"] = rs.randn(2, 3, 31, 33).astype(np.float32)
    cases["odd_7x50"] = (rs.randn(7, 50) * 1e-3).astype(np.float32)
    cases["odd_100"] = rs.randn(100).astype(np.float32)
    cases["odd_5x1x1"] = rs.randn(5, 1, 1).astype(np.float32)
    cases["odd_1x1x1000"] = (rs.randn(1, 1, 1000) * 2.0 ** rs.randint(-8, 8, (1, 1, 1000))).astype(np.float32)

    # bf16-valued inputs: every case above rounded to bfloat16 first (extremes excepted: they
    # would round to inf)
    from conformance.dlpack_bf16 import bf16_bits_to_float32, float32_to_bf16_bits

    for name in list(cases):
        if name.startswith("extremes"):
            continue
        cases[f"bf16valued_{name}"] = bf16_bits_to_float32(float32_to_bf16_bits(cases[name]))
    for name, x in cases.items():
        assert x.dtype == np.float32 and np.isfinite(x).all(), name
    return cases


# ---------------------------------------------------------------------------------------------
# conversions with the real ttnn

def _ttnn():
    mockenv.configure()
    import ttnn

    return ttnn


def _back_to_float32(t) -> np.ndarray:
    ttnn = _ttnn()
    if t.dtype == ttnn.bfloat16:
        # to_numpy() has no bfloat16 dtype to return; to_list() yields the exact values
        return np.asarray(t.to_list(), dtype=np.float32).reshape(tuple(t.shape))
    out = t.to_numpy()
    return np.asarray(out, dtype=np.float32).reshape(tuple(t.shape))


def convert(x: np.ndarray, fmt: str) -> np.ndarray:
    ttnn = _ttnn()
    dtype, layout = {
        "bfloat16_row_major": (ttnn.bfloat16, ttnn.ROW_MAJOR_LAYOUT),
        "bfloat16_tile": (ttnn.bfloat16, ttnn.TILE_LAYOUT),
        "bfloat8_b": (ttnn.bfloat8_b, ttnn.TILE_LAYOUT),
        "bfloat4_b": (ttnn.bfloat4_b, ttnn.TILE_LAYOUT),
    }[fmt]
    t = ttnn.Tensor(np.ascontiguousarray(x), dtype, layout=layout)
    assert t.dtype == dtype and t.layout == layout, (t.dtype, t.layout)
    out = _back_to_float32(t)
    assert out.shape == x.shape, (fmt, out.shape, x.shape)
    return out


def convert_bf16_input(x_bf16_valued: np.ndarray, fmt: str) -> np.ndarray:
    from conformance.dlpack_bf16 import BF16Array, float32_to_bf16_bits

    ttnn = _ttnn()
    dtype = {"bf16in_bfloat8_b": ttnn.bfloat8_b, "bf16in_bfloat4_b": ttnn.bfloat4_b}[fmt]
    bits = float32_to_bf16_bits(x_bf16_valued)
    t = ttnn.Tensor(BF16Array(bits), dtype, layout=ttnn.TILE_LAYOUT)
    out = _back_to_float32(t)
    assert out.shape == x_bf16_valued.shape
    return out


def _check_bf16_path_is_real(ttnn) -> None:
    """The DLPack export must arrive as bfloat16 (not silently as something else)."""
    from conformance.dlpack_bf16 import BF16Array, float32_to_bf16_bits

    probe = np.array([[1.0, -2.5, 3.140625, 0.0]], dtype=np.float32)
    t = ttnn.Tensor(BF16Array(float32_to_bf16_bits(probe)), ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT)
    got = np.asarray(t.to_list(), dtype=np.float32)
    if not np.array_equal(got, probe):
        raise SystemExit(f"bfloat16 DLPack hand-off is broken: {got} != {probe}")


def dump(out: Path) -> dict:
    ttnn = _ttnn()
    try:
        from importlib.metadata import version

        ttnn_version = version("ttnn")
    except Exception:
        ttnn_version = "unknown"
    _check_bf16_path_is_real(ttnn)
    cases = build_cases()
    arrays: dict[str, np.ndarray] = {}
    n_values = 0
    n_conversions = 0
    for name, x in cases.items():
        arrays[f"{name}__input"] = x
        n_values += x.size
        for fmt in FLOAT_FORMATS:
            arrays[f"{name}__{fmt}"] = convert(x, fmt)
            n_conversions += x.size
        if name.startswith("bf16valued_"):
            for fmt in BF16_INPUT_FORMATS:
                arrays[f"{name}__{fmt}"] = convert_bf16_input(x, fmt)
                n_conversions += x.size
    meta = {
        "ttnn_version": ttnn_version,
        "descriptor": Path(os.environ["TT_METAL_MOCK_CLUSTER_DESC_PATH"]).name,
        "seed": SEED,
        "cases": list(cases),
        "input_values": n_values,
        "converted_values": n_conversions,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    return meta


def probe_descriptor(target: str) -> int:
    """Convert one tile with the given descriptor; exit status 0 if ttnn accepts it."""
    mockenv.configure(target, override=True)
    import ttnn

    x = np.linspace(-1, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    y = ttnn.Tensor(x, ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT).to_numpy()
    print(f"{target}: accepted; max |error| {float(np.abs(y - x).max())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="where to write the .npz")
    ap.add_argument("--probe-descriptor", choices=sorted(mockenv.DESCRIPTORS))
    args = ap.parse_args(argv)
    if args.probe_descriptor:
        return probe_descriptor(args.probe_descriptor)
    if not args.out:
        ap.error("--out is required")
    meta = dump(args.out)
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
