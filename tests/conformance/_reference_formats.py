"""A small NumPy statement of the documented conversions (tt-bert-reference.md section 1).

Used only to validate the ttnn dump itself (that the dump exercises the rules the emulator
is specified by); the emulator is checked against ttnn directly.
"""
from __future__ import annotations

import numpy as np


def round_to_bfloat16(x: np.ndarray) -> np.ndarray:
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32).reshape(np.shape(x))


def _pad_to_tiles(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    h, w = x.shape[-2:]
    ph, pw = (-h) % 32, (-w) % 32
    pad = [(0, 0)] * (x.ndim - 2) + [(0, ph), (0, pw)]
    return np.pad(x, pad)


def quantize_block_float(x: np.ndarray, mant_bits: int) -> np.ndarray:
    """bfloat8_b (mant_bits=7) / bfloat4_b (3): shared exponent per 16 values of a tile row."""
    shape = np.shape(x)
    p = _pad_to_tiles(x)
    groups = p.reshape(p.shape[:-1] + (p.shape[-1] // 16, 16))
    bits = groups.view(np.uint32).astype(np.int64)
    sign = bits >> 31
    exp = (bits >> 23) & 0xFF
    mant = (bits & 0x7FFFFF) | (1 << 23)
    shared = exp.max(axis=-1, keepdims=True)  # zeros and subnormals have exp 0: never the max
    shift = np.minimum(shared - exp, 40)
    aligned = mant >> shift  # truncating alignment
    drop = 24 - mant_bits
    q = aligned >> drop
    rem = aligned & ((1 << drop) - 1)
    half = 1 << (drop - 1)
    q = q + ((rem > half) | ((rem == half) & ((q & 1) == 1)))
    q = np.minimum(q, (1 << mant_bits) - 1)
    q = np.where(exp == 0, 0, q)
    mag = q.astype(np.float64) * np.exp2(shared.astype(np.float64) - 127 - (mant_bits - 1))
    # sign kept apart; a value that quantizes to 0 comes back as +0.0 (ttnn never returns -0.0)
    val = np.where((sign == 1) & (q != 0), -mag, mag).astype(np.float32)
    out = val.reshape(p.shape)
    h, w = (shape[-2], shape[-1]) if len(shape) >= 2 else (1, shape[0])
    out = out[..., :h, :w]
    return out.reshape(shape)


def quantize_bfloat8_b(x: np.ndarray) -> np.ndarray:
    return quantize_block_float(x, 7)


def quantize_bfloat4_b(x: np.ndarray) -> np.ndarray:
    return quantize_block_float(x, 3)
