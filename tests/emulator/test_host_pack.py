"""The weight cache's one-file tensor pack: exact round trip of every emulated dtype, damage always detected."""

import struct

import pytest
import torch

from runtime.emulator import formats, host_pack
from runtime.emulator import ttnn


def _tensors():
    g = torch.Generator().manual_seed(11)
    x = torch.randn(64, 96, generator=g) * 3
    return {
        "bf16_rows": ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT),
        "bfp8_tiles": ttnn.from_torch(x, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT),
        "bfp4_ragged": ttnn.from_torch(x[:40, :50], dtype=ttnn.bfloat4_b, layout=ttnn.TILE_LAYOUT),
        "fp32": ttnn.from_torch(x[:3, :5], dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT),
        "ids": ttnn.from_torch(torch.arange(7 * 33, dtype=torch.int32).reshape(7, 33), dtype=ttnn.uint32,
                               layout=ttnn.ROW_MAJOR_LAYOUT),
        "empty": ttnn.from_torch(torch.zeros(0, 4), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT),
    }


def test_round_trip_is_exact(tmp_path):
    tensors = _tensors()
    host_pack.save(tmp_path / "t.pack", tensors)
    back = host_pack.load(tmp_path / "t.pack")
    assert list(back) == list(tensors)
    for name, t in tensors.items():
        b = back[name]
        assert (b.shape, b.dtype, b.layout) == (t.shape, t.dtype, t.layout), name
        assert torch.equal(ttnn.to_torch(b), ttnn.to_torch(t)), name
    # the bfloat8_b values are the format's, independently of the pack: quantised from the source
    src = torch.randn(64, 96, generator=torch.Generator().manual_seed(11)) * 3
    assert torch.equal(ttnn.to_torch(back["bfp8_tiles"]), formats.quantize_bfloat8_b(src))


def test_loaded_tensors_run_on_a_device(tmp_path):
    host_pack.save(tmp_path / "t.pack", _tensors())
    back = host_pack.load(tmp_path / "t.pack")
    device = ttnn.open_device(device_id=0)
    try:
        a = ttnn.to_device(back["bfp8_tiles"], device, memory_config=ttnn.DRAM_MEMORY_CONFIG)
        out = ttnn.matmul(a, ttnn.to_device(ttnn.from_torch(torch.eye(96), dtype=ttnn.bfloat16,
                                                              layout=ttnn.TILE_LAYOUT), device),
                          dtype=ttnn.float32)
        assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(back["bfp8_tiles"]))
    finally:
        ttnn.close_device(device)


@pytest.fixture(params=[32 << 20, 4096], ids=["one-chunk", "many-chunks"], autouse=True)
def chunk_size(request, monkeypatch):
    """The checksum is over per-chunk digests, read in parallel: check one chunk and many (small chunks)."""
    monkeypatch.setattr(host_pack, "_CHUNK", request.param)
    return request.param


@pytest.mark.parametrize("where", ["magic", "header length", "header", "data start", "data middle", "data end",
                                   "trailer"])
def test_every_flipped_byte_is_detected(tmp_path, where):
    path = tmp_path / "t.pack"
    size = host_pack.save(path, _tensors())
    raw = bytearray(path.read_bytes())
    (hlen,) = struct.unpack("<Q", raw[8:16])
    at = {"magic": 0, "header length": 9, "header": 16 + hlen // 2, "data start": 16 + hlen + 64,
          "data middle": size // 2, "data end": size - 9, "trailer": size - 1}[where]
    raw[at] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(host_pack.PackError, match="checksum"):
        host_pack.load(path)


@pytest.mark.parametrize("keep", [0, 10, 23, 1000, -1])
def test_truncated_or_extended_files_are_detected(tmp_path, keep):
    path = tmp_path / "t.pack"
    host_pack.save(path, _tensors())
    raw = path.read_bytes()
    path.write_bytes(raw[:keep] if keep >= 0 else raw + b"\0" * 8)
    with pytest.raises(host_pack.PackError):
        host_pack.load(path)


def test_only_host_tensors_are_packed(tmp_path):
    device = ttnn.open_device(device_id=0)
    try:
        on_device = ttnn.from_torch(torch.ones(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        with pytest.raises(TypeError, match="host tensors"):
            host_pack.save(tmp_path / "t.pack", {"x": on_device})
    finally:
        ttnn.close_device(device)
