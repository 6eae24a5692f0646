"""Hand a bfloat16 array to ttnn without torch (runs in the ttnn venv).

NumPy has no bfloat16 dtype and cannot export one through DLPack, but ``ttnn.from_torch``
passes torch's bfloat16 tensors to ``ttnn.Tensor(...)`` through DLPack.  To drive that same
C++ path with genuine bfloat16 input, :class:`BF16Array` wraps the raw 16-bit patterns
(a ``uint16`` NumPy array) and exports them as a DLPack tensor of dtype bfloat16
(code kDLBfloat = 4, 16 bits) on the CPU.
"""
from __future__ import annotations

import ctypes

import numpy as np

_KDL_CPU = 1
_KDL_BFLOAT = 4


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]

# The consumer may keep a view of the memory after the call; exporters live for the process.
_ALIVE: list["BF16Array"] = []


class BF16Array:
    """A C-contiguous bfloat16 array given by its bit patterns, exported through DLPack."""

    def __init__(self, bits: np.ndarray):
        self.bits = np.ascontiguousarray(bits, dtype=np.uint16)
        self.shape = tuple(self.bits.shape)
        self._shape = (ctypes.c_int64 * max(1, self.bits.ndim))(*self.bits.shape)
        m = _DLManagedTensor()
        t = m.dl_tensor
        t.data = self.bits.ctypes.data
        t.device = _DLDevice(_KDL_CPU, 0)
        t.ndim = self.bits.ndim
        t.dtype = _DLDataType(_KDL_BFLOAT, 16, 1)
        t.shape = self._shape
        t.strides = None  # compact row-major
        t.byte_offset = 0
        m.manager_ctx = None
        m.deleter = None  # memory is owned by this object, kept alive in _ALIVE
        self._managed = m
        _ALIVE.append(self)

    def __dlpack__(self, *args, **kwargs):  # any stream / max_version request: legacy capsule
        return _capsule_new(ctypes.addressof(self._managed), b"dltensor", None)

    def __dlpack_device__(self):
        return (_KDL_CPU, 0)


def float32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest, ties to even) and return the 16-bit patterns."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        out[nan] = ((b[nan] >> 16) | 0x40).astype(np.uint16)  # keep NaN a (quiet) NaN
    return out


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
