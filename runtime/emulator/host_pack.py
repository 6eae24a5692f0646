"""Many emulated host tensors in one checksummed file, mapped back with one checksum pass over its bytes.

The emulator's analogue of a directory of ``ttnn.dump_tensor`` files, for the prepared-weight cache:
bert-large has ~400 weight tensors, and opening, unpickling and checking them one by one cost more
than the bytes themselves.  Tensors are stored in the emulator's own storage form (bfloat16 for
bf16-exact dtypes, float32, int64), so loading is one mapping of the file plus zero-copy views.

Layout (little endian)::

    b"TTEMUPK1" | u64 header length | header (JSON) | tensor data, each 64-byte aligned | u64 xxh3_64

The trailing u64 checks every byte before it: the xxh3_64 of each 32 MiB chunk, and the xxh3_64 of
those digests (integrity, not security; xxh3 runs at ~10 GB/s).  ``load`` maps the file copy-on-write
(``mmap.ACCESS_COPY``, as safetensors does: the tensors are views of the OS page cache, nothing is
copied, writes never reach the file), hashes its chunks in parallel threads, and raises
:class:`PackError` for any truncated, extended, flipped or foreign file.  Writers never modify a pack
in place (the weight cache renames complete entries into place and deletes damaged ones), so a
mapping stays valid while its process runs; truncating a pack by hand under a running process would
make that process fault, as with any memory-mapped checkpoint.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from concurrent.futures import ThreadPoolExecutor

import torch
import xxhash

from .ttnn.tensor import Tensor, new_tensor
from .ttnn.types import DataType, Layout

__all__ = ["PackError", "save", "load"]

MAGIC = b"TTEMUPK1"
_ALIGN = 64
_CHUNK = 32 << 20        # part of the format: the checksum is over per-chunk digests
_READERS = max(1, min(4, os.cpu_count() or 1))
_STORAGE = {"bfloat16": torch.bfloat16, "float32": torch.float32, "int64": torch.int64, "int32": torch.int32}


class PackError(ValueError):
    """The file is not a complete, intact tensor pack."""


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _storage(t: Tensor) -> torch.Tensor:
    if not isinstance(t, Tensor) or t.device() is not None or not t.is_allocated():
        raise TypeError(f"host_pack.save takes allocated host tensors, got {t!r}")
    return t._stored("host_pack.save").contiguous()


def _combine(digests: list[int]) -> int:
    return xxhash.xxh3_64(struct.pack(f"<{len(digests)}Q", *digests)).intdigest()


class _ChunkDigests:
    """Digests of consecutive _CHUNK-byte pieces of a stream written in arbitrary pieces."""

    def __init__(self):
        self.digests, self.hasher, self.fill = [], xxhash.xxh3_64(), 0

    def update(self, b) -> None:
        mv = memoryview(b).cast("B")
        while len(mv):
            take = min(len(mv), _CHUNK - self.fill)
            self.hasher.update(mv[:take])
            self.fill += take
            mv = mv[take:]
            if self.fill == _CHUNK:
                self.digests.append(self.hasher.intdigest())
                self.hasher, self.fill = xxhash.xxh3_64(), 0

    def intdigest(self) -> int:
        return _combine(self.digests + ([self.hasher.intdigest()] if self.fill else []))


def _write_piece(f, digests: _ChunkDigests, b) -> None:
    digests.update(b)
    f.write(b)


def save(path, tensors: dict[str, Tensor]) -> int:
    """Write ``tensors`` (name -> host tensor) to ``path``; returns the file size in bytes."""
    data = {name: _storage(t) for name, t in tensors.items()}
    storage_names = {v: k for k, v in _STORAGE.items()}
    entries, offset = [], 0
    for name, t in tensors.items():
        d = data[name]
        if d.dtype not in storage_names:
            raise TypeError(f"host_pack.save: tensor {name!r} has storage {d.dtype}, not one of {sorted(_STORAGE)}")
        nbytes = d.numel() * d.element_size()
        entries.append({"name": name, "shape": list(t._shape), "dtype": t.dtype.name, "layout": t.layout.name,
                        "storage": storage_names[d.dtype], "offset": offset, "nbytes": nbytes})
        offset = _aligned(offset + nbytes)
    header = json.dumps({"tensors": entries}).encode()
    start = _aligned(len(MAGIC) + 8 + len(header))   # data offsets are relative to this
    digests = _ChunkDigests()
    with open(path, "wb") as f:
        _write_piece(f, digests, MAGIC + struct.pack("<Q", len(header)) + header + bytes(start - len(MAGIC) - 8 - len(header)))
        pos = 0
        for e in entries:
            if e["nbytes"]:
                _write_piece(f, digests, bytes(e["offset"] - pos))
                _write_piece(f, digests, memoryview(data[e["name"]].reshape(-1).view(torch.uint8).numpy()))
                pos = e["offset"] + e["nbytes"]
        _write_piece(f, digests, bytes(offset - pos))
        f.write(struct.pack("<Q", digests.intdigest()))
        size = f.tell()
    return size


def _map_verified(path) -> torch.Tensor:
    """Everything before the trailer, mapped copy-on-write and hashed chunk by chunk in parallel."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < len(MAGIC) + 16:
            raise PackError(f"{path}: {size} bytes is too short for a tensor pack")
        mapped = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
    view = memoryview(mapped)
    with ThreadPoolExecutor(_READERS) as pool:   # xxh3 releases the GIL; page-ins overlap
        digests = list(pool.map(lambda lo: xxhash.xxh3_64(view[lo:min(lo + _CHUNK, size - 8)]).intdigest(),
                                range(0, size - 8, _CHUNK)))
    trailer = bytes(view[size - 8:])
    view.release()
    if struct.unpack("<Q", trailer)[0] != _combine(digests):
        raise PackError(f"{path}: checksum mismatch (damaged or incomplete file)")
    return torch.frombuffer(mapped, dtype=torch.uint8, count=size - 8)   # the tensor keeps the mapping alive


def load(path) -> dict[str, Tensor]:
    """Load a pack written by :func:`save`: host tensors, views into one copy-on-write mapping of the file."""
    body = _map_verified(path)
    view = memoryview(body.numpy())
    if bytes(view[:len(MAGIC)]) != MAGIC:
        raise PackError(f"{path}: not a tensor pack (bad magic)")
    (hlen,) = struct.unpack("<Q", bytes(view[len(MAGIC):len(MAGIC) + 8]))
    try:
        header = json.loads(bytes(view[len(MAGIC) + 8:len(MAGIC) + 8 + hlen]))
        start = _aligned(len(MAGIC) + 8 + hlen)
        out = {}
        for e in header["tensors"]:
            lo = start + e["offset"]
            values = body[lo:lo + e["nbytes"]].view(_STORAGE[e["storage"]]).reshape(e["shape"])
            out[e["name"]] = new_tensor(values, DataType[e["dtype"]], Layout[e["layout"]], None, None,
                                        "host_pack.load", "host tensor", already_rounded=True)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:  # a sound checksum over a bad header: foreign writer
        raise PackError(f"{path}: malformed header ({err.__class__.__name__}: {err})") from None
    return out
